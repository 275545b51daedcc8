"""`python -m workflows <command> …`: the same command table as the `kerasforge` console script."""

from workflows.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
