"""Learning-rate schedule plugins, written in epochs."""

from plugins.schedule import learning_rate  # noqa: F401  (registers)
