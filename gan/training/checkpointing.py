"""Atomic, resumable checkpoints of the train state with Orbax, guarded against config mix-ups.

Each checkpoint holds two items: `state` (every array of the `TrainState`) and `meta` (JSON:
the config values the state depends on and the data position). Orbax writes a step into a
temporary directory and renames it when complete, so a run killed at any moment, even by
`kill -9`, leaves only whole checkpoints; the next start resumes from the newest. A checkpoint
damaged afterwards (a truncated or deleted file, a dying disk) is moved aside, never deleted,
and the run resumes from the newest one that restores (`restore_newest`).
"""

import contextlib
import dataclasses
import errno
import os
import pathlib
import re
import shutil

import jax
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils

from gan.errors import UserError

# Config keys that fix the shapes of the state or the order of the data: a checkpoint only
# resumes under the same values. Schedule keys (num_epochs, learning_rate, ...) may change.
COMPATIBILITY_KEYS = (
    "dataset",
    "image_size",
    "num_channels",
    "latent_dim",
    "ngf",
    "ndf",
    "batch_size",
    "seed",
)
# Keys that joined the fingerprint later, with the value every earlier checkpoint implies: the
# architecture, G's options and D's layers fix the state's shapes, n_critic the data order
# (images per step), whether an EMA of G is kept, whether D holds a code head and whether the
# learning rates anneal the state's structure, and the classes what the class embeddings mean.
LATER_COMPATIBILITY_KEYS = {
    "model": "dcgan",
    "d_spectral_norm": False,
    "d_norm": "batch",
    "d_packing": 1,
    "n_critic": 1,
    "ema": False,
    "num_classes": 0,
    "label_key": "label",
    "latent_codes": 0,
    "code_head": False,
    "latent_code_view": "features",
    "self_conditioning_clusters": 0,
    "g_self_modulation": False,
    "g_pixel_noise": False,
    "annealed_learning_rates": False,
}


@dataclasses.dataclass(frozen=True)
class DataPosition:
    """Where in the data stream a step stands: `batch` batches into epoch `epoch`, of a
    dataset of `num_examples` images (per process)."""

    epoch: int
    batch: int
    num_examples: int


# Where training keeps its checkpoints, under the workdir.
DIRECTORY = "checkpoints"
# Where evaluation during training keeps the best-scoring state (one checkpoint).
BEST_DIRECTORY = "best_checkpoint"
# Where checkpoints that cannot be restored are moved, beside WORKDIR/checkpoints.
SET_ASIDE_DIRECTORY = "checkpoints_unreadable"
# In the names of the temporary directories Orbax writes a checkpoint into before renaming it.
UNFINISHED_MARK = ".orbax-checkpoint-tmp"


def create_manager(
    workdir: pathlib.Path,
    config,
    directory: str = DIRECTORY,
    keep: int | None = None,
    remove_unfinished: bool = False,
) -> ocp.CheckpointManager:
    """A manager under WORKDIR/`directory` that keeps the last `keep` checkpoints (default
    `config.keep_checkpoints`).

    With `remove_unfinished` (only for the run that holds the workdir's lock: in a workdir in
    use, unfinished checkpoints are another run's saves in progress), the temporary directories
    of saves that never completed (a crash, a full disk) are removed first, one after another.
    Orbax's own clean-up removes them concurrently, and fails with "No such file or directory"
    when one holds another (a save interrupted mid-way).
    """
    path = (workdir / directory).absolute()
    if remove_unfinished and jax.process_index() == 0 and path.is_dir():
        for unfinished in sorted(path.glob(f"*{UNFINISHED_MARK}*")):
            logging.info("Removing the unfinished checkpoint %s.", unfinished)
            shutil.rmtree(unfinished)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep or config.keep_checkpoints, create=True, cleanup_tmp_directories=False
    )
    return ocp.CheckpointManager(path, options=options, item_names=("state", "meta"))


def compatibility_fingerprint(config) -> dict:
    """The config values a checkpoint must share with the run that restores it."""
    later = {key: config.get(key, default) for key, default in LATER_COMPATIBILITY_KEYS.items()}
    # Not config keys: derived from ema_decay, latent_code_weight and learning_rate_decay.
    later["ema"] = config.get("ema_decay", 0.0) > 0
    later["code_head"] = config.get("latent_code_weight", 0.0) > 0
    later["annealed_learning_rates"] = config.get("learning_rate_decay", 1.0) != 1.0
    return {key: config[key] for key in COMPATIBILITY_KEYS} | later


def save(manager: ocp.CheckpointManager, step: int, state, config, position: DataPosition) -> None:
    """Starts an asynchronous, atomic save of `state`, the state after `step` steps."""
    meta = {
        "config": compatibility_fingerprint(config),
        "data_position": dataclasses.asdict(position),
    }
    manager.save(
        step,
        args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
    )


def _meta(manager: ocp.CheckpointManager, step: int) -> dict:
    return manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta


def warn_if_data_changed(manager: ocp.CheckpointManager, step: int, num_examples: int) -> None:
    """Warns when the dataset size differs from the checkpoint's (files added to a folder, say):
    training can go on, but the batches no longer follow the interrupted run's order."""
    saved_examples = _meta(manager, step)["data_position"]["num_examples"]
    if saved_examples != num_examples:
        logging.warning(
            "The dataset had %d images when step %d was saved and has %d now: resuming, but "
            "the data order differs from the interrupted run's.",
            saved_examples,
            step,
            num_examples,
        )


def check_compatible(manager: ocp.CheckpointManager, config, step: int) -> None:
    """Refuses to resume from a checkpoint written under different shape or data settings.

    Raises:
      UserError: naming every key whose value differs, before anything is overwritten.
    """
    saved = LATER_COMPATIBILITY_KEYS | _meta(manager, step)["config"]
    current = compatibility_fingerprint(config)
    differences = [
        f"{key}={saved.get(key)!r} in the checkpoint but {value!r} now"
        for key, value in current.items()
        if saved.get(key) != value
    ]
    if differences:
        raise UserError(
            f"The checkpoint at step {step} in {manager.directory} was written by an "
            f"incompatible config: {'; '.join(differences)}. These settings fix the model's "
            "shapes or the data order, so the run cannot resume from it. Use a new --workdir "
            "for the new config, or rerun with the checkpoint's values; nothing was changed."
        )


def restore(manager: ocp.CheckpointManager, abstract_state, step: int):
    """Restores the state saved at `step` onto the shardings given in `abstract_state`."""
    restored = manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state))
    )
    return restored.state


def restore_newest(manager: ocp.CheckpointManager, abstract_state, config, set_aside: bool):
    """Restores the newest checkpoint that can be read, skipping damaged ones.

    A checkpoint written by an incompatible config is refused (`check_compatible`); one that
    cannot be read (missing, truncated or garbage files) is reported in a warning and, with
    `set_aside`, moved to WORKDIR/checkpoints_unreadable/STEP so that training can go on from
    the one before. Read-only commands pass `set_aside=False`.

    Returns:
      (state, step), or None when the manager has no readable checkpoint (or none at all).
    """
    for step in reversed(manager.all_steps()):
        try:
            check_compatible(manager, config, step)
            return restore(manager, abstract_state, step), step
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001  (any failure to read means: unusable)
            _report_unreadable(manager, step, error, set_aside)
    return None


def describe_failure(error: Exception) -> str:
    """A failed restore's type and the start of its message, on one line."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


def _report_unreadable(manager, step: int, error: Exception, set_aside: bool) -> None:
    directory = pathlib.Path(manager.directory)
    moved = ""
    if set_aside:
        destination = directory.parent / SET_ASIDE_DIRECTORY / str(step)
        if jax.process_index() == 0:
            destination.parent.mkdir(exist_ok=True)
            shutil.move(directory / str(step), _unused(destination))
        multihost_utils.sync_global_devices(f"set aside checkpoint {step}")
        manager.reload()
        moved = f" It was moved to {destination.parent}/ (not deleted)."
    logging.warning(
        "The checkpoint at step %d in %s cannot be restored (%s).%s Trying the one before.",
        step,
        directory,
        describe_failure(error),
        moved,
    )


def _unused(path: pathlib.Path) -> pathlib.Path:
    """`path`, or with a numbered suffix when a checkpoint of that step was set aside before."""
    candidate, number = path, 1
    while candidate.exists():
        candidate, number = path.with_name(f"{path.name}.{number}"), number + 1
    return candidate


# Errors of a write that the user can fix: a full disk or quota, a read-only or forbidden
# workdir, a failing disk.
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO)


@contextlib.contextmanager
def write_failures_explained(workdir: pathlib.Path):
    """Turns a failed write (a full disk, a workdir gone read-only) into one `UserError`.

    Orbax writes each checkpoint into a temporary directory and renames it only when complete,
    so a failed save leaves the earlier checkpoints as they were; the message names them.
    Failures inside Orbax's writer threads arrive as TensorStore errors carrying the OS error,
    failures of the TensorBoard writer as TensorFlow errors naming it in their text.
    """
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        text = " ".join(str(error).split())
        code = re.search(r"os_error_code='(\d+)'", text)
        named = [os.strerror(e) for e in _WRITE_ERRNOS if os.strerror(e) in text]
        if not (isinstance(error, OSError) or code or named):
            raise
        if code:
            reason = os.strerror(int(code.group(1)))
        else:
            reason = getattr(error, "strerror", None) or (named[0] if named else None)
        kept = _complete_steps(workdir / DIRECTORY)
        resume = f"resume from step {kept[-1]}" if kept else "start again from step 0"
        raise UserError(
            f"Writing to the workdir {str(workdir)!r} failed ({reason or text[:300]}). Training "
            "stopped. "
            f"The checkpoints already written are intact (steps {kept}); an incomplete one is "
            "only ever in a temporary directory, which the next run removes. Free space on "
            f"that disk (or make it writable) and run the same command again to {resume}."
        ) from None


def _complete_steps(directory: pathlib.Path) -> list[int]:
    """Steps with a complete checkpoint directory (Orbax's temporary ones are not), read from
    the disk: after a failed save the manager's own list may already count the failed step."""
    if not directory.is_dir():
        return []
    return sorted(int(path.name) for path in directory.iterdir() if path.name.isdigit())
