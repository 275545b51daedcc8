"""Loss plugins: Keras losses.

Contract. A builder (a function, or a `keras.losses.Loss` subclass,
registered as it is) receives its parameters and returns a Keras loss.
Declare `labels=` — "sparse" (class ids), "one_hot", "binary" or "value"
(compared as numbers) — to say what form of labels it takes. If it lists
`from_logits` (and/or `binary`) in `context`, the framework passes them:
the model then emits logits. Any other loss gets probabilities. A `check`
function may vet the values first (`check=fn(params, where)`).

Example (`plugins/loss/confidence_penalty.py`; see the README's walkthrough).
"""
