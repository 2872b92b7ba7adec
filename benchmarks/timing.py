"""Timing shared by the benchmarks: median step times and peak memory.

Steps run asynchronously on the device, so the clock is read only after the device has
finished a whole repeat; the median over repeats resists the drift of a shared machine.
"""

import resource
import statistics
import sys
import time
from collections.abc import Callable

import jax
import numpy as np

from gan import parallel
from gan.data import pipeline
from gan.training import train


def median_step_seconds(
    run_steps: Callable[[int], None], *, warmup: int, steps: int, repeats: int
) -> float:
    """Median over `repeats` of the mean step time, after `warmup` untimed steps.

    Args:
      run_steps: runs the given number of steps and returns once the device has finished them.
      warmup: untimed steps run first.
      steps: timed steps per repeat.
      repeats: timed repeats; the median is kept.

    Returns:
      Seconds per step.
    """
    run_steps(warmup)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_steps(steps)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, KiB here


def time_jax(config, *, warmup: int, steps: int, repeats: int) -> tuple[float, float]:
    """Compiles and times `gan.training.train.train_step` as `train_and_evaluate` jits it.

    Args:
      config: the model, optimizer, batch and image keys of configs/dcgan.py.
      warmup, steps, repeats: as in `median_step_seconds`.

    Returns:
      Compile seconds and the median step seconds.
    """
    mesh = parallel.create_mesh()
    state = train.create_sharded_state(config, mesh)
    size, channels = config.image_size, config.num_channels
    # One step reads a batch for each of the n_critic D updates.
    rng, local_size = np.random.default_rng(config.seed), pipeline.local_batch_size(config)
    local_batch = {"image": rng.random((local_size, size, size, channels), dtype=np.float32)}
    if config.get("num_classes", 0):
        local_batch["label"] = rng.integers(config.num_classes, size=local_size, dtype=np.int32)
    batch = parallel.global_batch(local_batch, mesh)
    start = time.perf_counter()
    step_fn = train.jit_train_step(mesh, parallel.shardings_of(state))
    compiled = step_fn.lower(state, batch).compile()
    compile_s = time.perf_counter() - start

    def run_steps(num_steps: int) -> None:
        nonlocal state
        for _ in range(num_steps):
            state, _ = compiled(state, batch)
        jax.block_until_ready(state)

    return compile_s, median_step_seconds(run_steps, warmup=warmup, steps=steps, repeats=repeats)
