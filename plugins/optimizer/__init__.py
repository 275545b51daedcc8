"""Optimizer plugins: the gradient-descent family.

Contract. A builder receives its parameters, `learning_rate` among them
(the framework passes a LearningRateSchedule instead when the schedule is
one), and returns a `keras.optimizers.Optimizer`. `full_batch=True` marks
one step per epoch on the whole training set (`gd`).

Example (`plugins/optimizer/sgd_nesterov.py` + `conf/optimizer/sgd_nesterov.yaml`
holding `name: sgd_nesterov` and `learning_rate: 0.01`):

    import keras
    from plugins.registry import register

    @register("optimizer", "sgd_nesterov")
    def sgd_nesterov(learning_rate: float = 0.01, momentum: float = 0.9):
        return keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=True)
"""
