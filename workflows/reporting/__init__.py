"""Floor 5, reporting: reading runs back — tables, plots and `show`. No TensorFlow."""
