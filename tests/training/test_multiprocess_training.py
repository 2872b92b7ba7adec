"""Multi-process training (gan/parallel.py, gan/main.py): 2 processes x 2 devices = 1 x 4.

Every process is a `python -m gan.main` on localhost with 2 fake CPU devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`), joined through
`--coordinator_address`; JAX's CPU collectives (gloo, the default) carry the reductions.

Each process reads its own half of the data, so a 2-process run sees the same global batches as
a 1-process run only when one batch is the whole dataset: here 8 images, batch 8. The step does
not depend on the order of the images within a batch (its losses and BatchNorm statistics are
means over it), so both runs then compute the same steps up to float summation order.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from gan import parallel, sample
from gan.errors import UserError
from gan.training import checkpointing
from tests.conftest import REPO_ROOT

TIMEOUT_S = 600  # for all the processes of one run: a hung run fails instead of blocking


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _write_dataset(path) -> str:
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    np.savez(path, images=images)
    return f"npz:{path}"


def _start(workdir, num_processes: int, devices: int, *overrides, stdout=subprocess.PIPE):
    """Starts configs/tiny.py training with `num_processes` x `devices`; returns the processes.

    Every process leads its own process group, so `_kill_leftovers` can end a hung run whole.
    """
    env = os.environ | {
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir,
        "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",  # compiles twice as fast; tiny steps run as fast
    }
    command = [sys.executable, "-m", "gan.main", "--config=configs/tiny.py", f"--workdir={workdir}"]
    command += overrides
    if num_processes > 1:
        command += [f"--coordinator_address=localhost:{_free_port()}"]
        command += [f"--num_processes={num_processes}"]
    processes = []
    for index in range(num_processes):
        flag = [f"--process_id={index}"] if num_processes > 1 else []
        processes.append(
            subprocess.Popen(
                command + flag,
                cwd=REPO_ROOT,
                env=env,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        )
    return processes


def _kill_leftovers(processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _run(workdir, num_processes: int, devices: int, *overrides) -> list[str]:
    """Trains configs/tiny.py with `num_processes` x `devices`; returns each process's output.

    A hung or failed run leaves no process behind.
    """
    processes = []
    try:
        processes = _start(workdir, num_processes, devices, *overrides)
        deadline = time.monotonic() + TIMEOUT_S
        outputs = [p.communicate(timeout=deadline - time.monotonic()) for p in processes]
    finally:
        _kill_leftovers(processes)
    for index, (process, (_, stderr)) in enumerate(zip(processes, outputs, strict=True)):
        assert process.returncode == 0, f"process {index} failed:\n{stderr[-3000:]}"
    return [stdout + stderr for stdout, stderr in outputs]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same 4 steps, 1 process x 4 devices (replicated) and 2 x 2 (FSDP, stopped at step 2
    and resumed): (one-process workdir, two-process workdir, outputs of the resumed run)."""
    root = tmp_path_factory.mktemp("multiprocess")
    common = [
        f"--config.dataset={_write_dataset(root / 'images.npz')}",
        "--config.checkpoint_every_steps=2",
        # A packing D pairs the images by their order in the batch, which the two layouts
        # do not share; image by image the step does not depend on that order.
        "--config.d_packing=1",
    ]
    _run(root / "one", 1, 4, *common, "--config.num_train_steps=4")
    sharded = [*common, "--config.state_sharding=fsdp", "--config.fsdp_min_size_mb=0"]
    _run(root / "two", 2, 2, *sharded, "--config.num_train_steps=2")
    resumed = _run(root / "two", 2, 2, *sharded, "--config.num_train_steps=4")
    return root / "one", root / "two", resumed


def test_multiprocess_run_resumes_and_equals_one_process(two_runs):
    one, two, resumed = two_runs
    assert "Process 0 of 2" in resumed[0] and "Process 1 of 2" in resumed[1]
    assert "Resuming from the checkpoint at step 2" in resumed[0]
    one_state = sample.restore_for_sampling(one, None)
    two_state = sample.restore_for_sampling(two, None)
    assert int(one_state.step) == int(two_state.step) == 4
    for got, want in zip(jax.tree.leaves(two_state), jax.tree.leaves(one_state), strict=True):
        # Same global batches; only the order of cross-device float reductions differs. Adam
        # divides each gradient by its own scale, so where a gradient is ~0 that rounding moves
        # a parameter by up to the learning rate (2e-4): hence atol, far below what a wrong
        # batch or a missing reduction changes (most elements, by ~lr per step).
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_multiprocess_output_comes_from_process_zero(two_runs):
    _, two, resumed = two_runs
    assert "d_loss" in resumed[0] and "d_loss" not in resumed[1]  # the console trace
    assert "Resuming" not in resumed[1]
    assert len(list(two.glob("events.out.tfevents.*"))) == 2  # one per start, process 0's
    trace = (two / "trace.csv").read_text().splitlines()
    assert [row.split(",")[1] for row in trace[1:]] == ["1", "2", "3", "4"]
    assert sorted(p.name for p in (two / "samples").iterdir()) == [
        "step_0000002.png",  # the end of the first start
        "step_0000003.png",
        "step_0000004.png",
    ]
    manager = checkpointing.create_manager(two, sample.load_run_config(two))
    assert manager.all_steps() == [2, 4]


def test_multiprocess_settings_from_flags_or_environment(monkeypatch):
    for name in parallel.DISTRIBUTED_ENV:
        monkeypatch.delenv(name, raising=False)
    assert not parallel.distributed_requested(False, None, None, None)
    assert parallel.distributed_requested(True, None, None, None)  # SLURM, TPU: JAX detects
    assert parallel.distributed_requested(False, None, None, 1)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    assert parallel.distributed_requested(False, None, None, None)
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda *args: calls.append(args))
    monkeypatch.setenv("JAX_PROCESS_ID", "1")
    parallel.initialize_distributed("host:1234", None, None)
    parallel.initialize_distributed("host:1234", 4, 3)  # flags win over the environment
    assert calls == [("host:1234", 2, 1), ("host:1234", 4, 3)]


def test_multiprocess_setting_errors_say_what_to_give(monkeypatch):
    def undetected(*args):
        raise ValueError("coordinator_address should be defined.")

    monkeypatch.setattr(jax.distributed, "initialize", undetected)
    with pytest.raises(UserError, match="--coordinator_address=HOST:PORT"):
        parallel.initialize_distributed(None, 2, 0)
    monkeypatch.setenv("JAX_PROCESS_ID", "first")
    with pytest.raises(UserError, match="JAX_PROCESS_ID='first' must be a whole number"):
        parallel.initialize_distributed("host:1234", 2, None)


def test_sigterm_to_one_process_stops_every_process_after_the_same_step(tmp_path):
    """Preemption reaches one host: JAX's preemption service makes all of them stop after one
    agreed step, which is checkpointed once, whole."""
    workdir = tmp_path / "run"
    processes = []
    try:
        processes = _start(
            workdir,
            2,
            2,
            f"--config.dataset={_write_dataset(tmp_path / 'images.npz')}",
            "--config.num_train_steps=100000",
            "--config.checkpoint_every_steps=100000",
            "--config.sample_every_steps=100000",
            "--config.log_every_steps=1",
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT_S
        trace = workdir / "trace.csv"
        while not trace.exists() or len(trace.read_text().splitlines()) < 4:
            assert all(p.poll() is None for p in processes), "a process ended early"
            assert time.monotonic() < deadline, "training never began"
            time.sleep(0.05)
        processes[1].send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=deadline - time.monotonic())[1] for p in processes]
    finally:
        _kill_leftovers(processes)
    for process, stderr in zip(processes, outputs, strict=True):
        assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    stopped_at = {int(stderr.split("after step ")[1].split()[0]) for stderr in outputs}
    assert len(stopped_at) == 1  # the same step on both
    manager = checkpointing.create_manager(workdir, sample.load_run_config(workdir))
    assert manager.all_steps() == list(stopped_at)
