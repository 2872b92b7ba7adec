"""Reading a training run back from its workdir: its config and a checkpointed state.

Shared by the commands that use a finished (or running) run: `gan.sample`, `gan.evaluate`.
"""

import json
import pathlib

import ml_collections

from gan import parallel
from gan.errors import UserError
from gan.training import checkpointing, train


def load_run_config(workdir: pathlib.Path) -> ml_collections.ConfigDict:
    """The config a run was trained with, from WORKDIR/config.json."""
    path = workdir / "config.json"
    if not path.exists():
        raise UserError(
            f"No training run in {str(workdir)!r}: {path.name} is missing. Pass the --workdir "
            "given to `python -m gan.main`."
        )
    return ml_collections.ConfigDict(json.loads(path.read_text()))


def restore_for_sampling(
    workdir: pathlib.Path, step: int | None, best: bool = False
) -> train.TrainState:
    """The train state of `workdir` at `step` (default: latest checkpoint), or with `best` the
    best-scoring one that evaluation during training kept."""
    config = load_run_config(workdir)
    if best:
        if step is not None:
            raise UserError("Pass either --step or --best: the best checkpoint has its own step.")
        manager = checkpointing.create_manager(workdir, config, checkpointing.BEST_DIRECTORY)
        if not manager.all_steps():
            raise UserError(
                f"The run in {str(workdir)!r} has no best checkpoint: it is kept by evaluation "
                "during training (--config.eval_every_steps > 0)."
            )
    else:
        manager = checkpointing.create_manager(workdir, config)
    available = manager.all_steps()
    if not available:
        raise UserError(f"The run in {str(workdir)!r} has no checkpoint yet; train it first.")
    if step is not None and step not in available:
        raise UserError(
            f"No checkpoint at step {step} in {str(workdir)!r}; available: {available}."
        )
    state = train.create_sharded_state(config, parallel.create_mesh())
    if step is None:  # the newest that restores; damaged ones are reported, left in place
        restored = checkpointing.restore_newest(manager, state, config, set_aside=False)
        if restored is None:
            raise UserError(
                f"No checkpoint of the run in {str(workdir)!r} can be restored (steps "
                f"{available}; the warnings above say what is wrong with each)."
            )
        return restored[0]
    try:
        return checkpointing.restore(manager, state, step)
    except Exception as error:  # noqa: BLE001  (any failure to read means: unusable)
        raise UserError(
            f"The checkpoint at step {step} in {str(workdir)!r} cannot be restored "
            f"({checkpointing.describe_failure(error)}). Its files are damaged; the run's "
            "other checkpoints are at steps "
            f"{[s for s in available if s != step]}: pass one of them as --step, or leave "
            "--step out for the newest that restores."
        ) from None
