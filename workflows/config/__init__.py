"""Floor 2, config: composing conf/ (Hydra), every section's schema and the data-free checks, the trainer's
rules, the stage table (dvc.yaml is generated from it) and the Experiment a checked config builds. No TensorFlow
at import.
"""
