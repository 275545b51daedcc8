"""Floor 4, stages: one module per DVC stage, each `run(experiment, layout, *, callbacks=())`, reading no argv;
evaluate's classical baseline beside it.
"""
