"""Throughput benchmarks of the training code, run as `python -m benchmarks.<name>`.

They need the extras in requirements-bench.txt (PyTorch, for side-by-side comparisons); nothing
in `gan/` imports this package.
"""
