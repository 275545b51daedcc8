"""kerasforge's plugins: every config option resolves to one of them.

Importing this package registers the built-in plugins, then those of
installed third-party packages that declare an entry point in the group
`kerasforge.plugins` (the entry point names a module; importing it runs its
`@register` decorators). A package that fails to import is reported by the
first registry lookup, as a one-line error.

    [project.entry-points."kerasforge.plugins"]
    my_plugins = "my_package.kerasforge_plugins"
"""

from __future__ import annotations

from plugins.tf_startup import start_tensorflow

start_tensorflow()  # first, so that TensorFlow's start-up chatter does not bury the one-line errors

from plugins import augmentation, data, loss, model, optimizer, regularizer, schedule  # noqa: E402,F401
from plugins.registry import ENTRY_POINT_GROUP, REGISTRY, ConfigError, Plugin, get, register  # noqa: E402

load_entry_points = REGISTRY.load_entry_points

try:  # third-party custom Keras objects must be registered before a model that uses them is loaded
    load_entry_points()
except ConfigError:
    pass  # kept, and raised again at the first lookup: inside the command lines' one-line error handling

__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "ConfigError", "Plugin", "get", "load_entry_points", "register"]
