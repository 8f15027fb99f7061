"""`python -m vita.cli` (torchrun uses it for multi-GPU training)."""

from vita.cli import app

app()
