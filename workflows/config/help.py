"""`--help` for the commands that take config overrides: the config groups and their options, read from conf/."""

from __future__ import annotations


def config_help(prog: str, summary: str, examples: tuple[str, ...] = ()) -> str:
    """The usage of a command that takes config overrides: its config groups and their options, read from conf/.

    Reads only the YAML files' names (no composition, no plugin, no TensorFlow), so that `--help` answers at once.

    Args:
        prog: the command as typed, e.g. `python -m workflows.train`.
        summary: one or two lines on what the command does.
        examples: command lines to show.

    Returns:
        The text to print.
    """
    from workflows.config.compose import CONF_DIR

    lines = [
        f"usage: {prog} [GROUP=OPTION …] [KEY=VALUE …]",
        "",
        summary,
        "",
        "config groups (GROUP=OPTION picks conf/GROUP/OPTION.yaml; KEY=VALUE sets one value, e.g. "
        "optimizer.learning_rate=0.01):",
    ]
    groups = sorted(p for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    width = max((len(g.name) for g in groups), default=0)
    for group in groups:
        options = sorted(f.stem for f in group.glob("*.yaml"))
        lines.append(f"  {group.name:<{width}}  {', '.join(options)}")
    lines += ["", "every plugin's parameters: python -m plugins list; the composed config: python -m workflows.config"]
    if examples:
        lines += ["", "examples:", *(f"  {e}" for e in examples)]
    return "\n".join(lines)
