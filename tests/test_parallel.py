"""Data parallelism (gan/parallel.py): 4 fake CPU devices train like 1 device.

The device count of a JAX process is fixed at start-up, so the 4-device runs are subprocesses
with `XLA_FLAGS=--xla_force_host_platform_device_count=4`.
"""

import os
import subprocess
import sys

import jax
import numpy as np

from gan import sample
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


def test_four_devices_give_the_same_parameters_as_one(trained_run, tmp_path):
    workdir, config, one_device = trained_run
    result = _main_on_four_devices(tmp_path, config.data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CpuDevice(id=3)" in result.stderr  # really ran on 4 devices
    four_devices = sample.restore_for_sampling(tmp_path, None)
    assert int(four_devices.step) == int(one_device.step) == 6
    leaves = zip(jax.tree.leaves(four_devices), jax.tree.leaves(one_device), strict=True)
    for got, want in leaves:
        # Same global batch; only the order of cross-device float reductions differs.
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=2e-5)


def test_batch_not_divisible_by_devices_is_a_clear_error(tmp_path, data_dir):
    result = _main_on_four_devices(tmp_path / "run", data_dir, "--config.batch_size=6")
    stderr = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "Unsupported config value batch_size=6" in stderr and "multiple of 4" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
