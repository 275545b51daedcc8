"""`python -m workflows.show …`: the old spelling of `kerasforge show …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["show", *sys.argv[1:]]))
