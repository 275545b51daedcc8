"""`python -m workflows.stages [--write]`: prints (or writes) dvc.yaml as generated from the stage table."""

from workflows.config.stage_table import main

raise SystemExit(main())
