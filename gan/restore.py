"""Reading a training run back from its workdir: its config and a checkpointed state.

Shared by the commands that use a finished (or running) run: `gan.sample`, `gan.evaluate`.
"""

import json
import pathlib

import ml_collections

from gan import checkpointing, parallel, train
from gan.errors import UserError


def load_run_config(workdir: pathlib.Path) -> ml_collections.ConfigDict:
    """The config a run was trained with, from WORKDIR/config.json."""
    path = workdir / "config.json"
    if not path.exists():
        raise UserError(
            f"No training run in {str(workdir)!r}: {path.name} is missing. Pass the --workdir "
            "given to `python -m gan.main`."
        )
    return ml_collections.ConfigDict(json.loads(path.read_text()))


def restore_for_sampling(workdir: pathlib.Path, step: int | None) -> train.TrainState:
    """The train state of `workdir` at `step` (default: latest checkpoint)."""
    config = load_run_config(workdir)
    manager = checkpointing.create_manager(workdir, config)
    available = manager.all_steps()
    if not available:
        raise UserError(f"The run in {str(workdir)!r} has no checkpoint yet; train it first.")
    step = available[-1] if step is None else step
    if step not in available:
        raise UserError(
            f"No checkpoint at step {step} in {str(workdir)!r}; available: {available}."
        )
    state = train.create_sharded_state(config, parallel.create_mesh())
    return checkpointing.restore(manager, state, step)
