"""Every built-in plugin's parameter names, without importing the plugins: `plugins/manifest.json`.

Importing a plugin module imports Keras, and Keras imports TensorFlow (seconds). A misspelt or missing parameter
needs none of that to be refused: `check(group, name, params, where)` answers from the manifest, which is generated
from the builders' signatures (`python -m plugins manifest --write`, `make manifest`) and kept in step with the code
by a test and by `make lint`, as dvc.yaml is. A plugin the manifest does not list (a third party's, or one added
since) is checked the slow way, by the registry itself, with the same messages.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError, check_values, did_you_mean, validate_against

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}

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
            entry: dict[str, Any] = {
                "parameters": list(params),
                "required": [k for k, v in params.items() if v == "???"],
                "types": {k: t for k, t in plugin.type_names().items() if t != "any"},
            }
            if plugin.meta.get("values"):
                entry["values"] = plugin.meta["values"]
            for key in ("check", "inspect"):  # Keras-free functions (a .checks module): run before TensorFlow
                function = plugin.meta.get(key)
                if function is not None and str(function.__module__).endswith(".checks"):
                    entry[key] = f"{function.__module__}:{function.__qualname__}"
            for key in ("labels", "task", "kind"):  # a loss's labels, a data set's task and kind: read across sections
                if isinstance(plugin.meta.get(key), str):
                    entry[key] = plugin.meta[key]
            if plugin.meta.get("kinds"):  # the kinds of data a model takes
                entry["kinds"] = list(plugin.meta["kinds"])
            out.setdefault(group, {})[name] = entry
    return out


def drift(written: dict[str, dict[str, dict[str, Any]]] | None = None) -> list[str]:
    """How plugins/manifest.json differs from the plugins' code, as lines to fix: an entry that changed or whose
    plugin is gone. A plugin the manifest does not list yet is no drift: the registry checks it the slow way (after
    importing it), so a new plugin is one Python file and one YAML file; `make manifest` lists it for the fast way.

    Args:
        written: the manifest as written (default: plugins/manifest.json).
    """
    written = _load() if written is None else written
    found, lines = generate(), []
    for group, entries in written.items():
        for name, entry in entries.items():
            now = found.get(group, {}).get(name)
            if now is None:
                lines.append(f"{group}.{name}: listed in plugins/manifest.json, but no such plugin now")
            elif json.loads(json.dumps(now)) != entry:
                lines.append(f"{group}.{name}: plugins/manifest.json differs from its code")
    return lines


def text() -> str:
    """manifest.json's text, as generated."""
    return json.dumps(generate(), indent=1, sort_keys=True) + "\n"


@cache
def _load() -> dict[str, dict[str, dict[str, Any]]]:
    try:
        return json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return {}


def check(group: str, name: str, params: dict[str, Any], where: str, hidden: frozenset[str] = frozenset()) -> None:
    """Refuses a built-in plugin's unknown or missing parameter, a value of the wrong type, or one outside its declared
    values, as `Plugin.build` would, without importing the plugin (so without Keras).

    Args:
        group: the plugin's group, e.g. "optimizer".
        name: its name, e.g. "adam".
        params: the section's parameters and their values (without `name` and the section's own options).
        where: the config path, for messages.
        hidden: keys whose values come from interpolations (never shown).

    Raises:
        ConfigError: a key the plugin does not take (closest names first), a required one missing, a value of the
            wrong type or outside the plugin's `values` rules.
    """
    entry = _load().get(group, {}).get(name)
    if entry is None:
        return
    known, owner = entry["parameters"], f"{group} '{name}'"
    for key in params:
        if key not in known:
            raise ConfigError(
                f"{where}.{key}: unknown parameter of {owner}; {did_you_mean(str(key), known)}{_elsewhere(group, key)}"
            )
    missing = sorted(k for k in entry["required"] if k not in params or params[k] == "???")
    if missing:
        raise ConfigError(f"{where}: {owner} needs {', '.join(missing)}; set it, e.g. {where}.{missing[0]}=...")
    typed = {k: v for k, v in entry.get("types", {}).items() if k in params and params[k] != "???"}
    if typed:  # the registry's own type check, on a schema of the manifest's types: the same messages
        schema = dataclasses.make_dataclass(
            f"{group}_{name}_manifest",
            [(k, _TYPES[t.rstrip("?")] | None if t.endswith("?") else _TYPES[t]) for k, t in typed.items()],
        )
        validate_against(schema, {k: params[k] for k in typed}, where, owner, hidden)
    check_values(entry.get("values", {}), params, where, hidden)
    if entry.get("check"):  # the plugin's own rules, from a module that imports no Keras (plugins/*/checks.py)
        module, _, function = entry["check"].partition(":")
        getattr(importlib.import_module(module), function)(params, where)


def _elsewhere(group: str, key: str) -> str:
    """Which other options of the group take `key` (`data.path` without `data=csv`): the option the user forgot."""
    owners = sorted(name for name, e in _load().get(group, {}).items() if key in e.get("parameters", ()))
    if not owners:
        return ""
    options = ", ".join(f"{group}={o}" for o in owners)
    return f" ({key} is a parameter of {options}: choose one, e.g. {group}={owners[0]})"


def models() -> dict[str, dict[str, Any]]:
    """Every built-in model's manifest entry, by name."""
    return _load().get("model", {})


def entry(group: str, name: str) -> dict[str, Any]:
    """A built-in plugin's manifest entry ({} for a plugin the manifest does not list)."""
    return _load().get(group, {}).get(name) or {}


def inspect(group: str, name: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """What a data plugin says before anything is imported: its declared task and kind, and its `inspect` function's
    facts (`{"task": …}`, read from the file's header and a sample: plugins/data/checks.py); {} for a plugin the
    manifest does not list.

    Raises:
        ConfigError: one line naming the problem in the user's files and the fix.
    """
    found = entry(group, name)
    facts = {k: found[k] for k in ("task", "kind") if found.get(k)}
    if found.get("inspect"):
        module, _, function = found["inspect"].partition(":")
        inspected = getattr(importlib.import_module(module), function)(params, where)
        facts.update({k: v for k, v in inspected.items() if v is not None})
    return facts
