"""kerasforge's plugins: every config option resolves to one of them.

A plugin is a builder registered with `@register(group, name)` in any
module of `plugins/<group>/`, or in an installed package that declares the
module in the entry-point group `kerasforge.plugins`:

    [project.entry-points."kerasforge.plugins"]
    my_plugins = "my_package.kerasforge_plugins"

Importing this package is cheap: it imports neither TensorFlow nor any
plugin. The first registry lookup imports them all (`load_plugins()` does
it explicitly, e.g. before `keras.models.load_model` of a model that uses a
custom loss or layer). Each group's builder contract is in its package's
docstring, `plugins/<group>/__init__.py`.
"""

from __future__ import annotations

from plugins.registry import ENTRY_POINT_GROUP, REGISTRY, ConfigError, Plugin, get, register

load_entry_points = REGISTRY.load_entry_points


def load_plugins() -> None:
    """Registers every plugin (built-in and third-party), and so their custom Keras objects.

    Raises:
        ConfigError: an installed plugin package failed to import.
    """
    REGISTRY.discover()


__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "ConfigError",
    "Plugin",
    "get",
    "load_entry_points",
    "load_plugins",
    "register",
]
