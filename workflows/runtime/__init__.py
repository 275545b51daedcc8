"""Floor 3, runtime: one training's machinery — distribution strategies and the multi-worker patch, epoch
backups, batch-norm recalibration, fine-tuning's freezing and rates. Used by the train stage only.
"""
