"""Every built-in plugin's parameter names, without importing the plugins: `plugins/manifest.json`.

Importing a plugin module imports Keras, and Keras imports TensorFlow (seconds). A misspelt or missing parameter
needs none of that to be refused: `check(group, name, params, where)` answers from the manifest, which is generated
from the builders' signatures (`python -m plugins manifest --write`, `make manifest`) and kept in step with the code
by a test and by `make lint`, as dvc.yaml is. A plugin the manifest does not list (a third party's, or one added
since) is checked the slow way, by the registry itself, with the same messages.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError, did_you_mean

MANIFEST = Path(__file__).with_name("manifest.json")


def generate() -> dict[str, dict[str, dict[str, Any]]]:
    """The manifest from the registry (imports every built-in plugin, hence Keras)."""
    from plugins.registry import REGISTRY

    REGISTRY.discover()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group in REGISTRY.groups():
        for name in REGISTRY.names(group):
            plugin = REGISTRY.get(group, name)
            if not str(getattr(plugin.builder, "__module__", "")).startswith(("plugins.", "keras.")):
                continue  # a third party's (its own module): the registry checks it
            params = plugin.parameters
            out.setdefault(group, {})[name] = {
                "parameters": list(params),
                "required": [k for k, v in params.items() if v == "???"],
            }
    return out


def text() -> str:
    """manifest.json's text, as generated."""
    return json.dumps(generate(), indent=1, sort_keys=True) + "\n"


@cache
def _load() -> dict[str, dict[str, dict[str, Any]]]:
    try:
        return json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return {}


def check(group: str, name: str, params: dict[str, Any], where: str) -> None:
    """Refuses an unknown or a missing parameter of a built-in plugin, as `Plugin.validate` would, without Keras.

    Args:
        group: the plugin's group, e.g. "optimizer".
        name: its name, e.g. "adam".
        params: the section's parameters (without `name` and the section's own options).
        where: the config path, for messages.

    Raises:
        ConfigError: a key the plugin does not take (closest names first), or a required one missing.
    """
    entry = _load().get(group, {}).get(name)
    if entry is None:
        return
    known, owner = entry["parameters"], f"{group} '{name}'"
    for key in params:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown parameter of {owner}; {did_you_mean(str(key), known)}")
    missing = sorted(k for k in entry["required"] if k not in params or params[k] == "???")
    if missing:
        raise ConfigError(f"{where}: {owner} needs {', '.join(missing)}; set it, e.g. {where}.{missing[0]}=...")
