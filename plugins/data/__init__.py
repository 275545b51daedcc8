"""Data plugins: where the examples come from and how they are split.

Contract. A builder receives its parameters only and returns
`plugins.data.base.Splits`: three tf.data datasets (`train`, `val`,
`test`) of unbatched `(x, y)` pairs — x float32 of one fixed shape, y int32
class ids (classification) or float32 targets (regression) — and a
`DataSpec` (input shape, task, classes and their names, kind: image,
tabular or sequence), from which the model's input and head are built.
The prepare stage writes the splits to disk, byte for byte the same for
the same parameters; bad input raises `ConfigError` with one line.

Declare the task at registration (`task="classification"` or
`"regression"`; a plugin with a `task` parameter, like `csv`, is read from
its config): the checks that need no data (a search's metric, say) know it
before any data is read.

Example (`plugins/data/moons.py` + `conf/data/moons.yaml` holding
`name: moons`):

    import numpy as np
    from sklearn.datasets import make_moons
    from plugins.data.base import DataSpec, split_arrays
    from plugins.registry import register

    @register("data", "moons", task="classification")
    def moons(samples: int = 1000, noise: float = 0.2, seed: int = 0):
        x, y = make_moons(samples, noise=noise, random_state=seed)
        spec = DataSpec((2,), "classification", 2, ["a", "b"], kind="tabular")
        return split_arrays(x.astype(np.float32), y.astype(np.int32), spec, 0.1, 0.2, seed)
"""
