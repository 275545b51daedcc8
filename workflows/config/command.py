"""The config, as one import: compose `conf/`, check it, resolve it to plugins.

    python -m workflows.config [--out params.yaml] [overrides…]   # prints (or writes) the composed, checked config

The pieces live in their own modules: `workflows.compose` (Hydra's
composition and its errors), `workflows.schema` (every section's schema,
`resolve`), `workflows.experiment` (the Keras objects a config builds).

Example:
>>> from workflows.config.command import compose, resolve
>>> experiment = resolve(compose(["optimizer=sgd", "trainer.epochs=1"]))
"""

from __future__ import annotations

import sys

from workflows.config.compose import CONF_DIR, CONFIG_NAME, compose, load_params, to_yaml
from workflows.config.experiment import Choice, Experiment
from workflows.config.schema import PLUGIN_GROUPS, SECTIONS, resolve

__all__ = [
    "CONF_DIR",
    "CONFIG_NAME",
    "PLUGIN_GROUPS",
    "SECTIONS",
    "Choice",
    "Experiment",
    "compose",
    "load_params",
    "resolve",
    "to_yaml",
]


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.config [--out params.yaml] [overrides…]`."""
    from plugins.registry import ConfigError
    from workflows.config.help import config_help
    from workflows.io.atomic import write_text
    from workflows.io.console import run_cli

    def usage() -> str:
        return config_help(
            "python -m workflows.config [--out FILE]",
            "Prints (or writes atomically to FILE) the composed config: what params.yaml holds for dvc repro.",
            ("python -m workflows.config --out params.yaml", "python -m workflows.config optimizer=sgd"),
        )

    def task(args: list[str]) -> None:
        out = None
        if args[:1] == ["--out"]:
            if len(args) < 2:
                raise ConfigError("--out needs a file name, e.g. --out params.yaml")
            out, args = args[1], args[2:]
        cfg = compose(args)
        resolve(cfg)
        if out:
            write_text(out, to_yaml(cfg))
        else:
            sys.stdout.write(to_yaml(cfg))

    return run_cli(task, argv, usage=usage)


if __name__ == "__main__":
    raise SystemExit(main())
