"""Privacy plugins: how the model is trained with respect to the privacy of each training row.

`privacy=none` (the default) trains as usual; `privacy=dp_sgd` trains with differentially private SGD (Abadi et al.,
2016): Poisson-sampled batches, each example's gradient clipped, Gaussian noise added once per batch, and the privacy
spent accounted with Google's `dp-accounting` (plugins/privacy/dp_sgd.py).
"""
