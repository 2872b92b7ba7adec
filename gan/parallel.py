"""Where arrays live: one device mesh, a replicated train state and batches split over 'data'.

`jax.jit` over a `Mesh` with `NamedSharding` replaces `pmap`: the step is written for the
global batch, and XLA inserts the cross-device reductions (gradients, BatchNorm statistics).
The same code runs on one CPU, a multi-GPU host or, with `jax.distributed`, a TPU slice.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def create_mesh() -> Mesh:
    """A 1-D mesh over every device of every process, along the data-parallel axis."""
    return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device (parameters, optimizer state)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis across the mesh's data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def global_batch(local_batch: np.ndarray, mesh: Mesh) -> jax.Array:
    """Assembles this process's slice of the batch into one array sharded over all devices."""
    return jax.make_array_from_process_local_data(batch_sharded(mesh), local_batch)
