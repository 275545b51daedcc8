"""`python -m workflows.predict …`: the old spelling of `kerasforge predict …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["predict", *sys.argv[1:]]))
