"""Model plugins: architectures.

Contract. A builder receives `spec` (`plugins.data.base.DataSpec`: input
shape, task, classes, kind) and `head` (`plugins.model.head.Head`), both
context, and its parameters, and returns an unbuilt-or-built `keras.Model`
whose input has shape `spec.input_shape` and whose last layer is
`head.layer()` (the framework decides logits or probabilities there). A
model that cannot take the data (`spec.kind`) raises `ConfigError`.
Weight penalties and `regularizer.dropout` are put on the model by the
framework afterwards; the builder need not know about them.

Example (`plugins/model/tiny.py` + `conf/model/tiny.yaml` holding
`name: tiny` and `units: 16`):

    import keras
    from plugins.registry import register

    @register("model", "tiny", context=("spec", "head"))
    def tiny(spec, head, units: int = 16) -> keras.Model:
        inputs = keras.Input(spec.input_shape)
        x = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, head.layer()(x))
"""
