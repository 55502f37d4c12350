"""Learnable distributions, the `PadEye` bijector, and fitting them (notebook 01)."""
