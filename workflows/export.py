"""`python -m workflows.export …`: the old spelling of `kerasforge export …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["export", *sys.argv[1:]]))
