"""Floor 5, serve: using a trained model — `predict` on new images and table rows."""
