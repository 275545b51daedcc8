"""Composition: `conf/` through Hydra into one config, Hydra's errors as one line.

Two ways in, one config:
- `compose(overrides)`: Hydra's composition of `conf/` (the direct CLI,
  sweeps, studies: `python -m workflows.train optimizer=sgd`);
- `load_params("params.yaml")`: what DVC composed (`dvc exp run -S …`) or
  what is committed (`dvc repro`).

Composition only assembles the YAML; whether the values are valid is
decided in one place, `workflows.schema.resolve`. To that end a value
override (`optimizer.learnin_rate=0.1`, `augmentation.ops.0.degreez=5`) is
given to Hydra as a force-add (`++key=value`): a misspelt key, at any depth
and inside lists, reaches the schema, which names it with its full path and
the closest valid keys, instead of failing inside Hydra.
"""

from __future__ import annotations

import errno
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from plugins.registry import ConfigError, did_you_mean, first_line

ROOT = Path(__file__).resolve().parents[2]  # workflows/config/ → the repository
CONF_DIR = ROOT / "conf"
CONFIG_NAME = "config"

# Hydra's own error messages carry the whole override text; a pathological
# one (a 100,000-character option name) must not flood the one-line error.
_SHOWN = 200


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def value_overrides(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """Turns `a.b=v` into `++a.b=v` (override or add); group choices, `+`, `~` and `hydra.*` are kept.

    Example:
    >>> value_overrides(["optimizer=sgd", "optimizer.momentum=0.9", "hydra.run.dir=x"])
    ['optimizer=sgd', '++optimizer.momentum=0.9', 'hydra.run.dir=x']
    """
    out = []
    for override in overrides:
        key = override.split("=", 1)[0]
        plain = not key.startswith(("+", "~")) and "=" in override
        if plain and ("." in key or "[" in key) and not key.startswith("hydra.") and "/" not in key:
            override = "++" + override
        out.append(override)
    return out


def _missing_option(err) -> ConfigError:
    missing = err.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    if group and err.options is not None:
        return ConfigError(
            f"unknown {group} option '{_short(option)}' (no conf/{group}/{_short(option)}.yaml); "
            f"{did_you_mean(option, err.options)}"
        )
    return ConfigError(_short(first_line(err)))


def _check_options(overrides: list[str] | tuple[str, ...], conf_dir: Path) -> None:
    """Refuses a group option that is a path: options are names on the config search path, so that
    `optimizer=../../x` cannot load a YAML file from elsewhere."""
    for override in overrides:
        key, sep, option = override.partition("=")
        group = key.lstrip("+")
        if not sep or "." in group or group.startswith(("hydra", "~")) or not (conf_dir / group).is_dir():
            continue
        if "/" in option or "\\" in option:
            options = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
            raise ConfigError(
                f"{group}='{_short(option)}': an option is a name in conf/{group}/, not a path; "
                f"{did_you_mean(option, options)}"
            )


def _too_long(overrides: list[str] | tuple[str, ...], conf_dir: Path) -> ConfigError:
    """The error for an option name the file system cannot even look up (ENAMETOOLONG)."""
    for override in overrides:
        key, _, option = override.partition("=")
        group = key.lstrip("+")
        if len(option) > 255 and (conf_dir / group).is_dir():
            options = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
            return ConfigError(
                f"unknown {group} option '{_short(option)}' ({len(option)} characters, longer than "
                f"a file name can be); {did_you_mean(option[:64], options)}"
            )
    return ConfigError("bad override: a name is longer than the file system allows")


def compose(
    overrides: list[str] | tuple[str, ...] = (), conf_dir: Path = CONF_DIR, hydra_config: bool = False
) -> DictConfig:
    """Composes `conf/` with Hydra, turning its errors into one-line ConfigErrors.

    Args:
        overrides: Hydra overrides, e.g. `["optimizer=sgd", "optimizer.learning_rate=0.05"]`.
        conf_dir: the config directory.
        hydra_config: keep the `hydra` node (for its run directory).

    Returns:
        The composed config, not yet validated (see `workflows.schema.resolve`).

    Raises:
        ConfigError: an unknown option of a group (closest options named), a malformed override.

    Example:
    >>> cfg = compose(["model=mlp", "trainer.epochs=1"])
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException

    _check_options(overrides, Path(conf_dir))
    try:
        with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
            return hydra_compose(CONFIG_NAME, value_overrides(overrides), return_hydra_config=hydra_config)
    except MissingConfigException as err:
        raise _missing_option(err) from None
    except ConfigCompositionException as err:
        raise ConfigError(_short(" ".join(str(err).split("\n")[:2]).strip())) from None
    except HydraException as err:
        raise ConfigError(f"bad override: {_short(first_line(err))}") from None
    except RecursionError:  # Hydra's override parser recurses once per level of nesting
        deepest = max(overrides, key=lambda o: o.count("[") + o.count("{"), default="")
        raise ConfigError(
            f"the override '{_short(deepest.split('=', 1)[0])}=…' nests lists or mappings too deeply "
            "to parse; a config value needs a few levels at most"
        ) from None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:  # a pathological option name
            raise _too_long(overrides, Path(conf_dir)) from None
        raise ConfigError(f"cannot read the config: {err.strerror or type(err).__name__}") from None


def load_params(path: str | Path = "params.yaml") -> DictConfig:
    """Reads a composed config (DVC's params.yaml), safely: YAML tags that would build objects are refused.

    Raises:
        ConfigError: the file is missing or is not a YAML mapping.
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; run `make params` to compose it from conf/")
    if not path.is_file():
        raise ConfigError(f"{path} is a directory, not a params file; give a file such as params.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}; run `make params` to recompose it") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} cannot be read as a params file ({type(err).__name__}); give params.yaml") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a mapping of config sections; run `make params` to recompose it")
    sections = known_sections()
    if not any(str(key) in sections for key in data):  # not a config at all: name none of its (perhaps secret) keys
        raise ConfigError(
            f"{path} is not a kerasforge config (none of its keys is a config section: "
            f"{', '.join(sorted(sections))}); give params.yaml, or run `make params` to compose it"
        )
    return OmegaConf.create(data)


def known_sections(conf_dir: Path = CONF_DIR) -> set[str]:
    """The config's top-level sections as conf/ defines them: its groups and conf/config.yaml's own keys."""
    import yaml

    top = yaml.safe_load((conf_dir / f"{CONFIG_NAME}.yaml").read_text()) or {}
    return {p.name for p in conf_dir.iterdir() if p.is_dir()} | {str(k) for k in top if k != "defaults"}


def to_yaml(cfg: DictConfig, secrets: bool = False) -> str:
    """The config as DVC's params.yaml holds it (resolved, no `hydra` node).

    Values read from the environment (`${oc.env:TOKEN}`) stay written as their interpolation, so that no file a
    run leaves behind (config.yaml, a search's base.yaml) holds a secret; the file still reruns where the variable
    is set. `secrets=True` resolves them too (a key that must change when they do, never written).
    """
    container = OmegaConf.create({key: cfg[key] for key in cfg if key != "hydra"})
    resolved = OmegaConf.to_container(container, resolve=True)
    if secrets:
        return OmegaConf.to_yaml(resolved)
    return OmegaConf.to_yaml(_keep_env(OmegaConf.to_container(container, resolve=False), resolved))


def _keep_env(raw, resolved):
    """`resolved`, with every value whose unresolved form reads the environment put back as written."""
    if isinstance(raw, dict) and isinstance(resolved, dict):
        return {k: _keep_env(raw.get(k), v) for k, v in resolved.items()}
    if isinstance(raw, list) and isinstance(resolved, list) and len(raw) == len(resolved):
        return [_keep_env(r, v) for r, v in zip(raw, resolved)]
    if isinstance(raw, str) and "oc.env" in raw and "${" in raw:
        return raw
    return resolved
