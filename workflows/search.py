"""`python -m workflows.search …`: the old spelling of `kerasforge search …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["search", *sys.argv[1:]]))
