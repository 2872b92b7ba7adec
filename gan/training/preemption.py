"""Stopping cleanly on SIGTERM and SIGINT: finish the step, checkpoint it, exit.

Schedulers (SLURM, Kubernetes, Cloud TPU VMs, `docker stop`) send SIGTERM some seconds before
they kill a job; Ctrl-C sends SIGINT. Training asks `StopSignals.should_stop(step)` after every
step; once it says yes, the loop writes a checkpoint of that step and raises `Preempted`, and
the rerun of the same command continues exactly where it stopped. A second signal exits at
once.

In a multi-process run every process must stop after the same step, or their checkpoint would
mix steps. JAX's preemption service does this: its notifier catches SIGTERM on any process and
the processes agree on the next step all of them can reach
(`multihost_utils.reached_preemption_sync_point`). There SIGTERM is left to that notifier, and
SIGINT is forwarded to it as a SIGTERM to this process.
"""

import os
import signal

import jax
from jax.experimental import multihost_utils


class Preempted(Exception):
    """Training stopped on a signal after checkpointing its step (exit status 128 + signal)."""

    def __init__(self, signal_number: int, message: str):
        super().__init__(message)
        self.exit_status = 128 + signal_number


class StopSignals:
    """Records SIGTERM and SIGINT while training runs; use as a context manager, which puts
    the previous handlers back on exit."""

    def __init__(self):
        self.received: int | None = None  # the first signal's number
        self._previous = {}
        self._synchronised = jax.process_count() > 1

    def __enter__(self) -> "StopSignals":
        handled = (signal.SIGINT,) if self._synchronised else (signal.SIGINT, signal.SIGTERM)
        for number in handled:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame) -> None:
        if self.received is not None:  # the second signal: stop now, without a checkpoint
            os._exit(128 + number)
        self.received = number
        if self._synchronised:  # the preemption service's notifier listens for SIGTERM
            os.kill(os.getpid(), signal.SIGTERM)

    def should_stop(self, step: int) -> bool:
        """Whether training should stop after `step`: the same answer on every process.

        Call it after every step, on every process (the preemption service counts them).
        """
        if self._synchronised:
            if multihost_utils.reached_preemption_sync_point(step):
                self.received = self.received or signal.SIGTERM
                return True
            return False
        return self.received is not None
