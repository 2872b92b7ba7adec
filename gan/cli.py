"""What the command-line entry points share: quiet library logs, user errors as a paragraph,
a persistent compilation cache, and the flags that join a multi-process run."""

import functools
import logging
import pathlib
import re
import sys
import textwrap

import jax
import tensorflow as tf
from absl import app, flags
from absl import logging as absl_logging

from gan import parallel
from gan.errors import UserError
from gan.training.preemption import Preempted

# Where compiled programs persist between runs unless JAX_COMPILATION_CACHE_DIR says otherwise
# (JAX_ENABLE_COMPILATION_CACHE=false turns the cache off).
COMPILATION_CACHE_DIR = pathlib.Path("~/.cache/gan/xla").expanduser()


def use_compilation_cache() -> None:
    """Keeps XLA's compiled programs on disk, so that a run after the first skips compiling.

    Compiling the default train step takes about 7 s on 2 CPU cores, half the time to the first
    step; a later run with the same program (same config, shapes and JAX) loads it instead.
    The loaded program is the one compiled, so results are bitwise the same.
    """
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(COMPILATION_CACHE_DIR))


def fail(message: str) -> None:
    """Prints `message` as one wrapped paragraph on stderr and exits with status 1."""
    paragraph = textwrap.fill(" ".join(message.split()), width=100)
    print(f"\nerror: {paragraph}\n", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with an unknown `--config.KEY` explained instead of a traceback.

    ml_collections raises AttributeError/KeyError from deep inside flag parsing when an override
    names a key the (locked) config does not have. Pass as `app.run(main, flags_parser=...)`.
    """
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as error:
        text = str(error)
        overrides = [arg for arg in argv if arg.startswith("--config.")]
        named = [arg for arg in overrides if arg.split("=")[0].rsplit(".", 1)[-1] in text]
        suggestion = re.search(r'Did you mean "([^"]+)"', text)
        hint = f" Did you mean {suggestion.group(1)!r}?" if suggestion else ""
        fail(
            f"Unknown config key in {' '.join(named or overrides)}: the config has no such key."
            f"{hint} Overrides must name an existing key, spelled exactly; the config file "
            "lists every key with what it does, and so does the README."
        )


def define_distributed_flags() -> None:
    """Defines the flags of a multi-process run; `start_distributed` acts on them."""
    flags.DEFINE_bool(
        "distributed",
        False,
        "Join a multi-process run (jax.distributed.initialize). On Cloud TPU, under SLURM and "
        "Open MPI JAX finds the processes by itself; elsewhere also give the three flags below "
        "(or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID), which imply this one.",
    )
    flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0, the same for all.")
    flags.DEFINE_integer("num_processes", None, "Number of processes in the run.")
    flags.DEFINE_integer("process_id", None, "This process's index, from 0 to num_processes - 1.")


def start_distributed() -> None:
    """Joins a multi-process run when the flags or the environment ask for one.

    Call first in `main`, before anything touches a JAX device. Processes other than 0 then
    log warnings only: progress is reported once, by process 0.
    """
    settings = (flags.FLAGS.coordinator_address, flags.FLAGS.num_processes, flags.FLAGS.process_id)
    if parallel.distributed_requested(flags.FLAGS.distributed, *settings):
        parallel.initialize_distributed(*settings)
    absl_logging.info(
        "Process %d of %d; devices: %s", jax.process_index(), jax.process_count(), jax.devices()
    )
    if jax.process_index() > 0:
        absl_logging.set_verbosity(absl_logging.WARNING)


def keep_own_info_logs(record: logging.LogRecord) -> bool:
    """Log filter: INFO lines from this package only (Orbax and tfds narrate every step)."""
    return record.levelno >= logging.WARNING or "/gan/" in record.pathname


def entry_point(main):
    """Decorates an absl `main(argv)` with what every command needs.

    It refuses stray positional arguments, keeps TensorFlow (which only feeds tf.data) off the
    GPUs that JAX uses, keeps compiled programs for the next run, filters library INFO logs,
    turns a `UserError` into its paragraph on stderr and exit status 1, and a stop on a signal
    into its message and status 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), as
    schedulers expect.
    """

    @functools.wraps(main)
    def wrapper(argv):
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        tf.config.set_visible_devices([], "GPU")
        use_compilation_cache()
        for handler in logging.getLogger().handlers:
            handler.addFilter(keep_own_info_logs)
        try:
            return main(argv)
        except UserError as error:
            fail(str(error))
        except Preempted as stop:
            print(f"\n{stop}\n", file=sys.stderr, flush=True)
            sys.exit(stop.exit_status)

    return wrapper
