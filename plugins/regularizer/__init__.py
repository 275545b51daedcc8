"""Regularizer plugins: weight penalties put on every kernel of any model.

Contract. A builder receives its parameters (and `n_train`, the number of
training examples, if it lists it in `context`) and returns a
`keras.regularizers.Regularizer`, or None for no penalty. The framework
attaches it to every kernel of the built model (`attach_to_kernels`).

Beside the penalty, the regularizer section holds two options that any
model takes: `dropout` (the rate of every Dropout layer; null keeps the
model's own) and `early_stopping` (patience, restore_best_weights).

Example (`plugins/regularizer/l2_half.py` + `conf/regularizer/l2_half.yaml`
holding `name: l2_half`):

    import keras
    from plugins.registry import register

    @register("regularizer", "l2_half")
    def l2_half(l2: float = 1e-4):
        return keras.regularizers.L2(l2 / 2)
"""
