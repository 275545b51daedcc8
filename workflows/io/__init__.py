"""Floor 1, io: files and the console — atomic writes, where each stage's files go (Layout), the byte-reproducible
data between stages, one-line errors and exit codes. Imports nothing of workflows/ above it; no TensorFlow.
"""
