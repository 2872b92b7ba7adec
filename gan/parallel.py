"""Where arrays live: the processes of a run, one device mesh, and the placement of the state.

`jax.jit` over a `Mesh` with `NamedSharding` replaces `pmap`: the step is written for the
global batch, and XLA inserts the cross-device communication (gradient and BatchNorm
reductions, parameter gathers). The same code runs on one CPU, a multi-GPU host, a GPU cluster
or a TPU pod slice; with several processes, `initialize_distributed` joins them first, each
process feeds its own devices, and the mesh spans the devices of all of them.

The mesh has one named axis, 'data', over every device. Batches are split along it. The train
state is placed on it in one of two ways (`config.state_sharding`):

  - "replicated": every device holds the whole state (pure data parallelism). Nothing but the
    gradients travels, which is fastest while the state fits next to the activations.
  - "fsdp": each array of at least `config.fsdp_min_size_mb` is split along its largest
    dimension divisible by the device count (fully sharded data parallelism, big_vision's
    `fsdp` rule), so parameters and Adam moments take 1/N of the memory per device. XLA gathers
    the weights where the step needs them and reduce-scatters the gradients: more
    communication, in exchange for generators and discriminators too large to replicate.
"""

import collections
import math
import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from gan.errors import UserError

DATA_AXIS = "data"
STATE_SHARDINGS = ("replicated", "fsdp")
# Environment variables read when the corresponding flag of `gan.main` is not given;
# JAX_COORDINATOR_ADDRESS is also JAX's own.
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def distributed_requested(
    requested: bool,
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
) -> bool:
    """Whether to join a multi-process run: asked for, or any of its settings given."""
    given = (coordinator_address, num_processes, process_id)
    return requested or any(v is not None for v in given) or any(map(os.getenv, DISTRIBUTED_ENV))


def _env_int(name: str) -> int | None:
    value = os.getenv(name)
    if not value:
        return None
    if not value.isdigit():
        raise UserError(f"The environment variable {name}={value!r} must be a whole number.")
    return int(value)


def initialize_distributed(
    coordinator_address: str | None, num_processes: int | None, process_id: int | None
) -> None:
    """Joins this process to a multi-process run with `jax.distributed.initialize`.

    Must run before anything touches a JAX device. Values left None come from the environment
    (`DISTRIBUTED_ENV`); those still unset are detected by JAX itself on Cloud TPU, under SLURM
    and under Open MPI.

    Args:
      coordinator_address: host:port of process 0, reachable from every process.
      num_processes: number of processes in the run.
      process_id: this process's index, 0 to num_processes - 1.

    Raises:
      UserError: the settings are incomplete and not detectable, or the processes cannot
        reach the coordinator.
    """
    num_processes = _env_int("JAX_NUM_PROCESSES") if num_processes is None else num_processes
    process_id = _env_int("JAX_PROCESS_ID") if process_id is None else process_id
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    except ValueError as error:
        raise UserError(
            f"Cannot start a multi-process run: {error} JAX finds the coordinator, the number "
            "of processes and each process's id by itself on Cloud TPU, under SLURM (srun) and "
            "Open MPI (mpirun); anywhere else give all three to every process: "
            "--coordinator_address=HOST:PORT (process 0's host) --num_processes=N "
            "--process_id=I, or the variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and "
            "JAX_PROCESS_ID."
        ) from None
    except jax.errors.JaxRuntimeError as error:
        raise UserError(
            f"The processes of this run could not connect through the coordinator "
            f"({str(error).splitlines()[0][:300]}). Start every process with the same "
            "coordinator address, a port free on process 0's host and reachable from all "
            "hosts, the same number of processes and distinct ids; process 0 must be running."
        ) from None


def create_mesh() -> Mesh:
    """A 1-D mesh over every device of every process, along the data-parallel axis.

    `jax.make_mesh` orders the devices to follow the interconnect (a ring on TPU) and keeps
    each process's devices together, where its share of the batch goes.
    """
    return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis across the mesh's data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def fsdp_sharded(
    shape: tuple[int, ...], nbytes: int, mesh: Mesh, min_bytes: float
) -> NamedSharding:
    """Splits the largest dimension that divides evenly over the data axis.

    Arrays under `min_bytes`, and those with no such dimension, stay replicated: gathering
    them would cost more communication than their copies cost memory.
    """
    devices = mesh.shape[DATA_AXIS]
    if nbytes < min_bytes:
        return replicated(mesh)
    for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
        if shape[dim] % devices == 0:
            return NamedSharding(mesh, PartitionSpec(*[None] * dim, DATA_AXIS))
    return replicated(mesh)


def state_sharding(abstract_state, mesh: Mesh, strategy: str, fsdp_min_size_mb: float):
    """The sharding of every array of a state, as `strategy` (one of STATE_SHARDINGS) says.

    Args:
      abstract_state: a pytree of arrays or `jax.ShapeDtypeStruct`s (`jax.eval_shape`).
      mesh: the device mesh.
      strategy: "replicated" or "fsdp" (see the module docstring).
      fsdp_min_size_mb: arrays smaller than this many MiB stay replicated under "fsdp".

    Returns:
      A pytree of `NamedSharding`s with the structure of `abstract_state`.
    """
    if strategy == "replicated":
        return jax.tree.map(lambda _: replicated(mesh), abstract_state)
    min_bytes = fsdp_min_size_mb * 2**20
    return jax.tree.map(
        lambda x: fsdp_sharded(x.shape, math.prod(x.shape) * x.dtype.itemsize, mesh, min_bytes),
        abstract_state,
    )


def shardings_of(tree):
    """The shardings of a pytree of `jax.Array`s, e.g. to compile a step for a restored state."""
    return jax.tree.map(lambda x: x.sharding, tree)


def memory_mib(tree) -> tuple[float, float]:
    """MiB of a pytree of arrays: in all, and the most that one device of this process holds."""
    leaves = jax.tree.leaves(tree)
    per_device = collections.Counter()
    for leaf in leaves:
        for shard in leaf.addressable_shards:
            per_device[shard.device] += shard.data.nbytes
    return sum(leaf.nbytes for leaf in leaves) / 2**20, max(per_device.values()) / 2**20


def global_batch(local_batch, mesh: Mesh):
    """Assembles this process's slice of the batch (an array, or a dict of arrays such as
    images and labels) into global arrays sharded over all devices along the batch."""
    sharding = batch_sharded(mesh)
    return jax.tree.map(
        lambda local: jax.make_array_from_process_local_data(sharding, local), local_batch
    )


def split_over_mesh(host_batch, mesh: Mesh):
    """Places a batch that every process holds whole (an array, or a pytree of arrays; None
    leaves stay None) as global arrays split along the batch over all devices.

    Inference feeds batches this way: every process computes the same generator noise or
    reads the same reference images, and each device works on its slice. The batch is padded
    (repeating its last row) to a multiple of the device count.

    Returns:
      The global arrays, and how many leading rows of any output are real (the rest padding).
    """
    sharding = batch_sharded(mesh)
    size = len(jax.tree.leaves(host_batch)[0])
    padding = -size % mesh.size

    def place(x):
        x = np.asarray(x)
        x = np.concatenate([x, np.repeat(x[-1:], padding, axis=0)]) if padding else x
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(place, host_batch), size


def mesh_of(tree) -> Mesh:
    """The mesh a pytree of arrays (e.g. a train state) lives on; a one-device mesh for arrays
    placed on a single device."""
    sharding = jax.tree.leaves(tree)[0].sharding
    if isinstance(sharding, NamedSharding):
        return sharding.mesh
    return Mesh(np.array(list(sharding.device_set)), (DATA_AXIS,))


def to_host(array: jax.Array) -> np.ndarray:
    """The whole value of a global array on this host, whichever processes hold its shards."""
    return multihost_utils.process_allgather(array, tiled=True)
