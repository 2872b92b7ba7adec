"""Data parallelism and FSDP (gan/parallel.py): 4 fake CPU devices train like 1 device.

The device count of a JAX process is fixed at start-up, so the 4-device runs are subprocesses
with `XLA_FLAGS=--xla_force_host_platform_device_count=4`.
"""

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AbstractMesh, AxisType
from jax.sharding import PartitionSpec as P

from gan import parallel, sample
from tests.conftest import REPO_ROOT

FOUR_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}


def _main_on_four_devices(workdir, data_dir, *overrides):
    env = (
        os.environ
        | FOUR_DEVICES
        | {"JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir}
    )
    command = [
        sys.executable,
        "-m",
        "gan.main",
        "--config=configs/tiny.py",
        f"--workdir={workdir}",
        f"--config.data_dir={data_dir}",
        *overrides,
    ]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _assert_same_parameters(workdir, one_device):
    four_devices = sample.restore_for_sampling(workdir, None)
    assert int(four_devices.step) == int(one_device.step) == 6
    leaves = zip(jax.tree.leaves(four_devices), jax.tree.leaves(one_device), strict=True)
    for got, want in leaves:
        # Same global batch; only the order of cross-device float reductions differs.
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=2e-5)


def test_four_devices_give_the_same_parameters_as_one(trained_run, tmp_path):
    workdir, config, one_device = trained_run
    result = _main_on_four_devices(tmp_path, config.data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CpuDevice(id=3)" in result.stderr  # really ran on 4 devices
    _assert_same_parameters(tmp_path, one_device)


def test_fsdp_splits_the_state_and_trains_like_replication(trained_run, tmp_path):
    _, config, replicated_on_one = trained_run
    sharded = ["--config.state_sharding=fsdp", "--config.fsdp_min_size_mb=0"]
    result = _main_on_four_devices(tmp_path, config.data_dir, *sharded)
    assert result.returncode == 0, result.stderr[-3000:]
    total, on_one_device = re.search(
        r"Train state: (\S+) MiB, at most (\S+) MiB", result.stderr
    ).groups()
    assert float(on_one_device) < 0.3 * float(total)  # about a quarter on each of 4 devices
    _assert_same_parameters(tmp_path, replicated_on_one)


def test_fsdp_splits_the_largest_divisible_dimension_of_large_arrays():
    mesh = AbstractMesh((4,), (parallel.DATA_AXIS,), axis_types=(AxisType.Auto,))
    state = {
        "kernel": jax.ShapeDtypeStruct((4, 4, 6, 32), jnp.float32),  # 12 KiB
        "odd": jax.ShapeDtypeStruct((3, 5, 7), jnp.float32),  # no dimension divisible by 4
        "bias": jax.ShapeDtypeStruct((8,), jnp.float32),  # 32 bytes
    }
    specs = {
        key: sharding.spec
        for key, sharding in parallel.state_sharding(state, mesh, "fsdp", 1 / 1024).items()
    }
    assert specs == {"kernel": P(None, None, None, "data"), "odd": P(), "bias": P()}
    assert specs["kernel"] != parallel.state_sharding(state, mesh, "fsdp", 1.0)["kernel"].spec
    replicated = parallel.state_sharding(state, mesh, "replicated", 0.0)
    assert all(sharding.spec == P() for sharding in replicated.values())


def test_batch_not_divisible_by_devices_is_a_clear_error(tmp_path, data_dir):
    result = _main_on_four_devices(tmp_path / "run", data_dir, "--config.batch_size=6")
    stderr = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "Unsupported config value batch_size=6" in stderr and "multiple of 4" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
