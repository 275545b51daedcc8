"""kerasforge's workflows: one module per pipeline stage.

Each stage module has a pure core (a function that takes the resolved
config and returns results) and a thin `main` for `python -m workflows.<stage>`.
"""

import plugins  # noqa: F401  (first: it starts TensorFlow quietly, see plugins/tf_startup.py, and registers the plugins)
