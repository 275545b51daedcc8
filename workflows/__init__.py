"""kerasforge's workflows: one module per pipeline stage.

Each stage module has a pure core (a function that takes the resolved
config and returns results) and a thin `main` for `python -m workflows.<stage>`.
"""

from plugins.tf_startup import start_tensorflow

start_tensorflow()  # before any stage imports TensorFlow: see plugins/tf_startup.py
