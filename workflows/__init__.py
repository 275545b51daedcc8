"""kerasforge's workflows: one module per pipeline stage.

Each stage module has a pure core (a function that takes the resolved
config and returns results) and a thin `main` for `python -m workflows.<stage>`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
