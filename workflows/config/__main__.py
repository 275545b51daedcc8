"""`python -m workflows.config …`: the old spelling of `kerasforge config …`, kept for users' scripts."""

from workflows.config.command import main

raise SystemExit(main())
