"""Cross-validation plugins: how the training rows are split into folds.

Contract. A builder receives its parameters and returns a
`plugins.cv.kfold.Folds` plan — a function from the labels of the prepared
training and validation rows (together) to a list of (train, val) index
arrays — or None for the one train/val split of the data plugin. The
pipeline (workflows/runners/pipeline.py) prepares the data once, then trains and
evaluates once per fold on those rows; the test split is the same for every
fold, and the metrics are the mean over the folds, with their spread.

Example (`plugins/cv/holdout3.py` + `conf/cv/holdout3.yaml` holding
`name: holdout3`): three random 80/20 splits.

    import numpy as np
    from sklearn.model_selection import ShuffleSplit
    from plugins.cv.kfold import Folds
    from plugins.registry import register

    @register("cv", "holdout3")
    def holdout3(seed: int = 0):
        return Folds(lambda y: list(ShuffleSplit(3, test_size=0.2, random_state=seed).split(np.zeros(len(y)))))
"""
