"""The plugin registry: one mechanism for every config group.

A plugin is a builder (a function or a Keras class) registered under a
(group, name) pair. Its keyword parameters are its config schema: the YAML
file `conf/<group>/<name>.yaml` selects it by `name:` and sets those
parameters. Parameters the framework supplies itself (the data spec of a
model, say) are declared as `context` and are not part of the schema.

Example:

>>> from plugins.registry import register
>>> @register("loss", "my_loss")
... class MyLoss(keras.losses.Loss):
...     def __init__(self, delta: float = 1.0, **kwargs): ...
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, KeyValidationError, ValidationError


class ConfigError(ValueError):
    """Bad input: a one-line message that names the problem and the fix."""


class ParamError(ConfigError):
    """A plugin's refusal of one of its parameters; the framework prefixes the parameter's full config path.

    Example:
    >>> raise ParamError("fill_mode", "'wobble' is unknown; valid: constant, reflect")
    ... # shown as: augmentation.ops.0.fill_mode: 'wobble' is unknown; valid: constant, reflect
    """

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


_REDACTED: set[str] = set()


def redact(values: typing.Iterable[str]) -> None:
    """Marks values (those of `${oc.env:…}` interpolations, say) that no error message may show."""
    _REDACTED.update(v for v in values if len(v) >= 3)


def redacted(text: str) -> str:
    """`text` with every value marked by `redact` replaced by `***`."""
    for value in sorted(_REDACTED, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type's name when the message is empty)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def closest(word: str, choices: typing.Iterable[str], n: int = 3) -> list[str]:
    """Returns the valid `choices`, the closest to `word` first.

    Args:
        word: the misspelt name.
        choices: the valid names.
        n: how many close matches to put first.

    Returns:
        Every choice, the close matches first (difflib's ratio), then the rest
        in alphabetical order.
    """
    choices = sorted(set(choices))
    near = difflib.get_close_matches(word, choices, n=n, cutoff=0.5)
    return near + [c for c in choices if c not in near]


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """Formats `closest()` for an error message: 'did you mean x? valid: x, y, z'."""
    ordered = closest(word, choices)
    lowered = {c.lower(): c for c in reversed(ordered)}  # `data=CSV` means csv: case is no distance
    near = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.5)
    hint = f"did you mean '{lowered[near[0]]}'? " if near else ""
    return f"{hint}valid: {', '.join(ordered) if ordered else '(none)'}"


# Types a parameter may declare, mapped to what the YAML may hold.
_SIMPLE = (bool, int, float, str)


def _field_type(param: inspect.Parameter, hints: dict[str, Any]) -> Any:
    """The schema type of one builder parameter.

    An annotation wins; else the type of a simple default; else Any (Keras's
    classes annotate nothing, and `None` defaults say nothing about the type).
    """
    if param.name in hints:
        return hints[param.name]
    default = param.default
    if default is not inspect.Parameter.empty and type(default) in _SIMPLE:
        return type(default)
    return Any


def _default_of(param: inspect.Parameter) -> Any:
    default = param.default
    if default is inspect.Parameter.empty:
        return dataclasses.MISSING
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda d=default: list(d) if isinstance(d, tuple) else d)
    return default


def interpolated(node: Any) -> frozenset[str]:
    """The keys of a config node whose values are interpolations (`${oc.env:TOKEN}`…): errors must not echo them."""
    if not isinstance(node, DictConfig):
        return frozenset()
    return frozenset(str(k) for k in node.keys() if OmegaConf.is_interpolation(node, str(k)))


def validate_against(
    schema: type, params: dict[str, Any] | DictConfig, where: str, owner: str, hidden: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Checks config values against a dataclass schema and returns them typed.

    Args:
        schema: a dataclass; its fields are the valid keys, their types the
            valid values.
        params: the values, e.g. a group's config without its `name` key.
        where: the config path, for messages, e.g. "optimizer".
        owner: what the schema belongs to, for messages, e.g. "optimizer 'adam'".

    Returns:
        A plain dict of every field, defaults filled in.

    Raises:
        ConfigError: an unknown key (closest valid keys named), a missing
            required key or a value of the wrong type.
    """
    if isinstance(params, DictConfig):
        hidden = hidden | interpolated(params)
        params = OmegaConf.to_container(params, resolve=True)
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: expected a mapping of parameters for {owner}, got {params!r}")
    known = {f.name for f in dataclasses.fields(schema)}
    for key in params:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown parameter of {owner}; {did_you_mean(str(key), known)}")
    typed = OmegaConf.structured(schema)
    for key, value in params.items():
        try:
            typed = OmegaConf.merge(typed, {key: value})
        except ConfigKeyError as err:  # an unknown key inside a nested section
            full_key = str(getattr(err, "full_key", key))
            parent, _, bad = full_key.rpartition(".")
            node = OmegaConf.select(typed, parent) if parent else typed
            raise ConfigError(
                f"{where}.{full_key}: unknown parameter of {owner}; {did_you_mean(bad, list(node.keys()))}"
            ) from None
        except ValidationError as err:
            expected = getattr(err, "msg", str(err)).splitlines()[0]
            full_key = str(getattr(err, "full_key", "") or key)
            shown = value if full_key == key else OmegaConf.select(OmegaConf.create({key: value}), full_key)
            shown = "its interpolated value" if key in hidden else _short_repr(shown)
            expected = expected if key not in hidden else "wrong type"
            raise ConfigError(f"{where}.{full_key}: {shown} is not valid for {owner} ({expected})") from None
        except KeyValidationError as err:  # e.g. an int key where the schema wants str keys
            full_key = str(getattr(err, "full_key", "") or key)
            raise ConfigError(
                f"{where}.{full_key}: {getattr(err, 'msg', str(err)).splitlines()[0]} for {owner}"
            ) from None
    missing = sorted(OmegaConf.missing_keys(typed))
    if missing:
        raise ConfigError(f"{where}: {owner} needs {', '.join(missing)}; set it, e.g. {where}.{missing[0]}=...")
    return OmegaConf.to_container(typed, resolve=True)


def check_values(
    rules: dict[str, dict[str, Any]], params: dict[str, Any], where: str, hidden: frozenset[str] = frozenset()
) -> None:
    """Refuses values outside a plugin's declared rules (its `values` meta): data-free, so no TensorFlow.

    Args:
        rules: parameter → its rule: `choices` (a list), `min` and `max` (inclusive), `between` ([low, high],
            exclusive). A null value passes (a parameter that may be null says so by its default).
        params: the parameters' values.
        where: the config path of the section, e.g. "data".
        hidden: keys whose values come from interpolations (never shown).

    Raises:
        ConfigError: one line: `data.horizon=0 must be at least 1`, `data.on_gap='skipp' is unknown; did you mean…`.

    Example:
    >>> check_values({"horizon": {"min": 1}}, {"horizon": 0}, "data")
    Traceback (most recent call last):
    plugins.registry.ConfigError: data.horizon=0 must be at least 1
    """
    for key, rule in rules.items():
        value = params.get(key)
        if value is None or value == "???":
            continue
        shown = "***" if key in hidden else (repr(value) if isinstance(value, str) else str(value))
        if "choices" in rule and value not in rule["choices"]:
            raise ConfigError(f"{where}.{key}={shown} is unknown; {did_you_mean(str(value), rule['choices'])}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue  # a wrong type is validate_against's to refuse
        if "min" in rule and value < rule["min"]:
            raise ConfigError(f"{where}.{key}={shown} must be at least {rule['min']}")
        if "max" in rule and value > rule["max"]:
            raise ConfigError(f"{where}.{key}={shown} must be at most {rule['max']}")
        if "between" in rule and not rule["between"][0] < value < rule["between"][1]:
            low, high = rule["between"]
            raise ConfigError(f"{where}.{key}={shown} must be between {low} and {high} (exclusive)")


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


@dataclass
class Plugin:
    """One registered plugin.

    Attributes:
        group: the config group, e.g. "optimizer".
        name: its name in the group, e.g. "adam".
        builder: the function or class that builds the Keras object.
        context: parameters the framework passes, not the config.
        schema: a dataclass of the configurable parameters.
        meta: free-form facts about the plugin that the workflows read
            (e.g. a loss's `labels: "sparse"`).
    """

    group: str
    name: str
    builder: Callable[..., Any]
    context: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    schema: type = field(init=False)

    def __post_init__(self) -> None:
        self.schema = self._make_schema()

    def _make_schema(self) -> type:
        target = self.builder.__init__ if inspect.isclass(self.builder) else self.builder
        signature = inspect.signature(target)
        try:
            hints = typing.get_type_hints(target)
        except Exception:  # forward references a plugin author left unresolvable
            hints = {}
        hints = {**hints, **self.meta.get("types", {})}
        fields = []
        for param in signature.parameters.values():
            if param.name in ("self", "name", "kwargs", "args", *self.context):
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            kind = _field_type(param, hints)
            default = _default_of(param)
            if default is dataclasses.MISSING:
                fields.append((param.name, kind))
            elif isinstance(default, dataclasses.Field):
                fields.append((param.name, kind, default))
            else:
                fields.append((param.name, kind, dataclasses.field(default=default)))
        # Parameters without defaults must come first in a dataclass.
        fields.sort(key=lambda f: len(f) == 3)
        return dataclasses.make_dataclass(f"{self.group}_{self.name}_params", fields)

    def type_names(self) -> dict[str, str]:
        """Each parameter's type as the manifest writes it: `int`, `float`, `str`, `bool`, with `?` when it may be
        null; `any` for the rest (lists, mappings, Keras's unannotated parameters)."""
        out = {}
        for f in dataclasses.fields(self.schema):
            kind, optional = f.type, False
            if typing.get_origin(kind) in (typing.Union, types.UnionType):
                args = [a for a in typing.get_args(kind) if a is not type(None)]
                optional = len(args) < len(typing.get_args(kind))
                kind = args[0] if len(args) == 1 else Any
            out[f.name] = (kind.__name__ + ("?" if optional else "")) if kind in _SIMPLE else "any"
        return out

    @property
    def parameters(self) -> dict[str, Any]:
        """The configurable parameters with their defaults (`???` if required)."""
        out = {}
        for f in dataclasses.fields(self.schema):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = "???"
        return out

    def validate(
        self, params: dict[str, Any] | DictConfig, where: str, hidden: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """Checks `params` against the schema and returns them typed (see `validate_against`)."""
        return validate_against(self.schema, params, where, f"{self.group} '{self.name}'", hidden)

    def build(self, params: dict[str, Any], where: str | None = None, **context: Any) -> Any:
        """Validates `params` and calls the builder with them and `context`.

        The plugin's `check` meta, if any, vets the values first; context
        wins over params of the same name (a schedule for `learning_rate`).
        Every error names the config path `where`: a ParamError gets
        `where.param: `, another ConfigError `where: ` (unless it already
        starts with it), and a ValueError or TypeError the builder raises on
        a bad value (Keras checks a momentum outside [0, 1], say) becomes a
        ConfigError.
        """
        where = where or self.group
        kwargs = self.validate(params, where)
        check_values(self.meta.get("values", {}), kwargs, where)
        check = self.meta.get("check")
        if check is not None:
            check(kwargs, where)
        try:
            return self.builder(**{**kwargs, **context})
        except ParamError as err:
            raise ConfigError(f"{where}.{err.param}: {err.message}") from None
        except ConfigError as err:
            if str(err).startswith((f"{where}.", f"{where}:", f"{where}=", f"{where} ")):
                raise
            raise ConfigError(f"{where}: {err}") from None
        except (ValueError, TypeError) as err:
            raise ConfigError(
                f"{where}: {self.group} '{self.name}' refused its parameters: {first_line(err)}"
            ) from None


ENTRY_POINT_GROUP = "kerasforge.plugins"


class Registry:
    """Plugins by group and name; a duplicate registration is an error.

    Plugins are imported at the first lookup (see `discover`), not when
    this module is imported: importing the registry is cheap (no
    TensorFlow), and a broken third-party package fails there, as a
    one-line ConfigError.
    """

    def __init__(self, package: str = "plugins") -> None:
        self._plugins: dict[str, dict[str, Plugin]] = {}
        self._package = package
        self._discovered: set[str | None] = set()  # groups whose folder was imported; None: every folder
        self._entry_points: list[str] | None = None
        self._entry_point_error: ConfigError | None = None

    def discover(self, group: str | None = None) -> None:
        """Imports (once) the modules of a group's plugin folder (every folder when `group` is None), then the
        third-party entry points.

        A built-in plugin of group G is any function or class decorated with
        `@register("G", …)` in a module of `plugins/G/` (or deeper). No import
        list to edit: a new file is a new plugin. Only the folder of the group
        looked up is imported, so preparing a NumPy data set does not start
        TensorFlow (the model and loss folders do).

        Raises:
            ConfigError: a third-party package failed to import (see `load_entry_points`).
        """
        if None not in self._discovered and group not in self._discovered:
            self._discovered.add(group)  # first: a module that looks a plugin up while importing does not recurse
            package = importlib.import_module(self._package)
            folders = package.__path__ if group is None else [f"{p}/{group}" for p in package.__path__]
            prefix = f"{self._package}." if group is None else f"{self._package}.{group}."
            if group is not None and importlib.util.find_spec(f"{self._package}.{group}") is not None:
                importlib.import_module(f"{self._package}.{group}")
            for module in pkgutil.walk_packages(folders, prefix=prefix):
                if module.name.rsplit(".", 1)[-1].startswith("_") and not module.ispkg:
                    continue  # __main__ and private helpers are not plugin modules
                importlib.import_module(module.name)
        self.load_entry_points()

    def load_entry_points(self) -> list[str]:
        """Imports (once) every module declared in the `kerasforge.plugins` entry-point group.

        Returns:
            The names of the entry points loaded.

        Raises:
            ConfigError: a declared module failed to import (the package is
                named, with the reason).
        """
        if self._entry_point_error is not None:
            raise self._entry_point_error
        if self._entry_points is not None:
            return self._entry_points
        from importlib.metadata import entry_points

        self._entry_points = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except ConfigError as err:
                self._entry_point_error = err
                raise
            except Exception as err:
                dist = ep.dist.name if ep.dist else "?"
                self._entry_point_error = ConfigError(
                    f"plugin package '{dist}' (entry point {ENTRY_POINT_GROUP}:{ep.name} = {ep.value}) "
                    f"failed to import: {type(err).__name__}: {err}; fix or uninstall it"
                )
                raise self._entry_point_error from None
            self._entry_points.append(ep.name)
        return self._entry_points

    def add(self, plugin: Plugin) -> None:
        group = self._plugins.setdefault(plugin.group, {})
        if plugin.name in group:
            old = group[plugin.name].builder
            raise ConfigError(
                f"{plugin.group} '{plugin.name}' is registered twice: by "
                f"{old.__module__}.{old.__qualname__} and by "
                f"{plugin.builder.__module__}.{plugin.builder.__qualname__}; rename one of them"
            )
        group[plugin.name] = plugin

    def remove(self, group: str, name: str) -> None:
        """Unregisters a plugin (tests and interactive sessions)."""
        self._plugins.get(group, {}).pop(name, None)

    def groups(self) -> list[str]:
        self.discover()
        return sorted(self._plugins)

    def names(self, group: str) -> list[str]:
        self.discover(group)
        return sorted(self._plugins.get(group, {}))

    def get(self, group: str, name: str) -> Plugin:
        """The plugin registered as (group, name).

        Raises:
            ConfigError: naming the group, the bad name and the closest valid
                names.
        """
        self.discover(group)
        if group not in self._plugins:
            self.discover()
        if group not in self._plugins:
            raise ConfigError(f"unknown plugin group '{group}'; {did_you_mean(group, self._plugins)}")
        try:
            return self._plugins[group][name]
        except KeyError:
            raise ConfigError(
                f"{group} '{name}' is not registered (plugins are found in {self._package}/{group}/*.py and in "
                f"installed packages' '{ENTRY_POINT_GROUP}' entry points); "
                f"{did_you_mean(str(name), self._plugins[group])}"
            ) from None


REGISTRY = Registry()


def _is_custom_keras_class(obj: Any) -> bool:
    """A class of the user's or of this project's, deriving from a Keras base."""
    if not inspect.isclass(obj) or obj.__module__.split(".")[0] == "keras":
        return False
    bases = (
        keras_base
        for keras_base in (
            "keras.src.layers.layer.Layer",
            "keras.src.losses.loss.Loss",
            "keras.src.regularizers.regularizers.Regularizer",
            "keras.src.optimizers.base_optimizer.BaseOptimizer",
            "keras.src.metrics.metric.Metric",
            "keras.src.optimizers.schedules.learning_rate_schedule.LearningRateSchedule",
        )
    )
    mro = {f"{c.__module__}.{c.__qualname__}" for c in inspect.getmro(obj)}
    return any(b in mro for b in bases)


def register(
    group: str,
    name: str,
    *,
    context: typing.Iterable[str] = (),
    **meta: Any,
) -> Callable[[Any], Any]:
    """Registers a builder (a function or a Keras class) as a plugin.

    A custom Keras class (a Loss, a Layer, a Regularizer…) is also registered
    with `keras.saving.register_keras_serializable`, so that a saved model
    that uses it loads with `safe_mode=True` in any process that imported
    its module.

    Args:
        group: the config group, e.g. "loss".
        name: the plugin's name in the group; `conf/<group>/*.yaml` select it
            with `name: <name>`.
        context: the builder's parameters that the framework supplies (not
            configurable), e.g. `("spec",)` for a model.
        **meta: facts the workflows read, e.g. `labels="sparse"` for a loss;
            `check=fn(params, where)` vets values (raising ConfigError);
            `types={"clipnorm": Optional[float]}` types parameters whose
            default says nothing (Keras's `None`s); `values={"horizon":
            {"min": 1}, "on_gap": {"choices": ["fail", "ignore"]}}` declares
            the values a parameter takes (`check_values`): plugins/manifest.json
            carries them, so they are refused before any plugin is imported.

    Returns:
        A decorator that returns the builder unchanged.

    Example:

    >>> @register("optimizer", "sgd_half")
    ... def sgd_half(learning_rate: float = 0.01):
    ...     return keras.optimizers.SGD(learning_rate / 2)
    """

    def decorator(builder: Any) -> Any:
        REGISTRY.add(Plugin(group, name, builder, tuple(context), dict(meta)))
        if _is_custom_keras_class(builder):
            import keras

            keras.saving.register_keras_serializable(package=f"kerasforge.{group}", name=name)(builder)
        return builder

    return decorator


def get(group: str, name: str) -> Plugin:
    """Shorthand for `REGISTRY.get(group, name)`."""
    return REGISTRY.get(group, name)
