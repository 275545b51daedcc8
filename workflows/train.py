"""`python -m workflows.train …`: the old spelling of `kerasforge train …`, kept for users' scripts."""

if __name__ == "__main__":
    import sys

    from workflows.cli import main

    raise SystemExit(main(["train", *sys.argv[1:]]))
