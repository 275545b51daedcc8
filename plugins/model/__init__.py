"""Model plugins: builders `(spec, head, **params) -> keras.Model`."""

from plugins.model import applications, conv, dense, recurrent, resnet  # noqa: F401  (registers)
from plugins.model.head import Head, resolve_head

__all__ = ["Head", "resolve_head"]
