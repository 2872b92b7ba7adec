"""Sweeps and reproductions built on the `gan` package (see experiments/README.md)."""
