"""`python -m workflows.report …`: the old spelling of `kerasforge report …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["report", *sys.argv[1:]]))
