"""kerasforge's plugins: every config option resolves to one of them.

Importing this package registers the built-in plugins, then those of
installed third-party packages that declare an entry point in the group
`kerasforge.plugins` (the entry point names a module; importing it runs its
`@register` decorators):

    [project.entry-points."kerasforge.plugins"]
    my_plugins = "my_package.kerasforge_plugins"
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides real messages

from importlib.metadata import entry_points  # noqa: E402

from plugins import augmentation, data, loss, model, optimizer, regularizer  # noqa: E402,F401
from plugins.registry import REGISTRY, ConfigError, Plugin, get, register  # noqa: E402

ENTRY_POINT_GROUP = "kerasforge.plugins"


def load_entry_points() -> list[str]:
    """Imports every module that installed packages declare in `kerasforge.plugins`.

    Returns:
        The names of the entry points loaded.

    Raises:
        ConfigError: a declared module failed to import (named, with why).
    """
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except ConfigError:
            raise
        except Exception as err:
            dist = ep.dist.name if ep.dist else "?"
            raise ConfigError(
                f"plugin package '{dist}' (entry point {ENTRY_POINT_GROUP}:{ep.name} = {ep.value}) failed "
                f"to import: {type(err).__name__}: {err}; fix or uninstall it"
            ) from None
        loaded.append(ep.name)
    return loaded


load_entry_points()

__all__ = ["REGISTRY", "ConfigError", "Plugin", "get", "register", "load_entry_points"]
