"""`python -m workflows.study …`: the old spelling of `kerasforge study …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["study", *sys.argv[1:]]))
