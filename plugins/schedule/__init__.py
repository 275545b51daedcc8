"""Learning-rate schedule plugins, written in epochs.

Contract. A builder receives `learning_rate` (the optimizer's),
`steps_per_epoch` and `epochs` (context) and its parameters, and returns a
`keras.optimizers.schedules.LearningRateSchedule` (in optimizer steps), a
`keras.callbacks.Callback` that sets the rate, or None (constant).

Example (`plugins/schedule/halving.py` + `conf/schedule/halving.yaml`
holding `name: halving` and `every: 10`):

    import keras
    from plugins.registry import register

    @register("schedule", "halving", context=("learning_rate", "steps_per_epoch", "epochs"))
    def halving(learning_rate, steps_per_epoch, epochs, every: int = 10):
        return keras.optimizers.schedules.ExponentialDecay(
            learning_rate, every * steps_per_epoch, 0.5, staircase=True)
"""
