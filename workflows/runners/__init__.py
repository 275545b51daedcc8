"""Floor 6, runners: what runs stages — the stage process (DVC's), the pipeline in one process, sweeps, searches,
studies and their confirmation; the commands that train.
"""
