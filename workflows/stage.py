"""`python -m workflows.stage NAME --params params.yaml`: one pipeline stage, as `dvc repro` runs it.

dvc.yaml's commands call this module rather than the command table (`workflows/cli.py`), so that a stage's DVC deps
are the code that stage runs: the stage process (workflows/stages/process.py), its stage and what they import — not
the command table's help texts, the runners, the search or the report page. `kerasforge stage NAME` is the same.
"""

from __future__ import annotations

import sys

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    """Runs the stage named first in `argv` (default: the command line's arguments) with the rest of its options."""
    from workflows.config.stage_table import BY_NAME

    argv = sys.argv[1:] if argv is None else list(argv)
    names = ", ".join(BY_NAME)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            f"usage: kerasforge stage NAME [--params params.yaml] [--root RUN_DIR]\n\nRuns one stage of the "
            f"pipeline, as dvc repro does. Stages: {names}. `kerasforge stage NAME --help` for its options."
        )
        return 0 if argv else EXIT_BAD_INPUT
    if argv[0] not in BY_NAME:
        from plugins.registry import did_you_mean

        print(f"error: unknown stage '{argv[0]}'; {did_you_mean(argv[0], BY_NAME)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from workflows.stages.process import stage_main

    return stage_main(argv[0], argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
