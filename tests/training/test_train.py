"""End-to-end tests of gan/training/train.py: train, checkpoint, resume (even after kill -9 or on a
signal), sample."""

import csv
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan import parallel, sample
from gan.errors import UserError
from gan.models import sampling
from gan.trace import read_trace
from gan.training import checkpointing, losses, train, validation
from gan.training.progress import TrainingDiverged
from tests.conftest import REPO_ROOT


def _leaves(state):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(state))]


def assert_states_identical(a, b):
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_run_writes_trace_samples_checkpoints_and_config(trained_run):
    workdir, config, state = trained_run
    assert int(state.step) == 6
    with (workdir / "trace.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 6]  # every 2 steps, and before checkpoints
    for row in rows:
        for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "g_grad_norm", "img_per_s"):
            assert np.isfinite(float(row[key]))
        assert 0.0 <= float(row["d_acc_real"]) <= 1.0
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        "step_0000003.png",
        "step_0000006.png",
    ]
    assert json.loads((workdir / "config.json").read_text())["ngf"] == config.ngf
    assert list(workdir.glob("events.out.tfevents.*"))
    manager = checkpointing.create_manager(workdir, config)
    assert manager.all_steps() == [3, 6]


def test_stopped_and_resumed_run_is_bitwise_identical(trained_run, tiny_config, tmp_path):
    tiny_config.num_train_steps = 4  # stops between checkpoints' steps: the last one is 4
    train.train_and_evaluate(tiny_config, str(tmp_path))
    tiny_config.num_train_steps = 6
    resumed = train.train_and_evaluate(tiny_config, str(tmp_path))
    assert_states_identical(resumed, trained_run[2])


def _start_training(workdir, *overrides, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """`python -m gan.main --config=configs/tiny.py` on `workdir` in a subprocess, sharing this
    session's compilation cache."""
    return subprocess.Popen(
        [sys.executable, "-m", "gan.main", "--config=configs/tiny.py", f"--workdir={workdir}"]
        + list(overrides),
        cwd=REPO_ROOT,
        env=os.environ | {"JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def _wait_until(ready, process: subprocess.Popen, what: str) -> None:
    """Polls `ready()` while `process` runs, for up to two minutes."""
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.01)


def test_run_killed_with_sigkill_resumes_exactly(tiny_config, tmp_path):
    steps = 30
    overrides = [
        f"--config.num_train_steps={steps}",
        "--config.checkpoint_every_steps=3",
        "--config.sample_every_steps=30",
        "--config.log_every_steps=30",
        f"--config.data_dir={tiny_config.data_dir}",
    ]
    killed = _start_training(tmp_path / "killed", *overrides)
    try:
        _wait_until((tmp_path / "killed" / "checkpoints" / "3").exists, killed, "a checkpoint")
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(timeout=30) == -signal.SIGKILL
    finally:
        killed.kill()

    tiny_config.num_train_steps = steps
    tiny_config.checkpoint_every_steps = 3
    tiny_config.sample_every_steps = steps
    resumed = train.train_and_evaluate(tiny_config, str(tmp_path / "killed"))
    uninterrupted = train.train_and_evaluate(tiny_config, str(tmp_path / "uninterrupted"))
    assert int(resumed.step) == steps
    assert_states_identical(resumed, uninterrupted)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_stopped_by_signal_checkpoints_its_step_and_resumes_exactly(
    tiny_config, tmp_path, stop_signal
):
    """SIGTERM (preemption) or SIGINT mid-run: the step it stops at is checkpointed although no
    checkpoint is due, the trace reaches it, the exit status says which signal, and (after
    SIGTERM) the rerun ends bitwise where an uninterrupted run does."""
    steps = 3000
    overrides = [
        f"--config.num_train_steps={steps}",
        "--config.checkpoint_every_steps=100000",
        "--config.sample_every_steps=100000",
        "--config.log_every_steps=1",
        f"--config.data_dir={tiny_config.data_dir}",
    ]
    workdir = tmp_path / "stopped"
    stopped = _start_training(workdir, *overrides, stderr=subprocess.PIPE)
    trace = workdir / "trace.csv"
    try:
        _wait_until(
            lambda: trace.exists() and len(trace.read_text().splitlines()) >= 3, stopped, "a step"
        )
        stopped.send_signal(stop_signal)
        _, stderr = stopped.communicate(timeout=60)
    finally:
        stopped.kill()

    assert stopped.returncode == 128 + stop_signal, stderr
    assert f"Stopped on {stop_signal.name} after step" in stderr
    saved = [int(path.name) for path in (workdir / "checkpoints").iterdir() if path.name.isdigit()]
    assert len(saved) == 1 and 0 < saved[0] < steps
    with open(workdir / "trace.csv") as f:
        assert int(list(csv.DictReader(f))[-1]["step"]) == saved[0]
    if stop_signal == signal.SIGINT:
        return  # the same stop as SIGTERM's; its resume is checked once, below

    tiny_config.num_train_steps = steps
    tiny_config.checkpoint_every_steps = 100000
    tiny_config.sample_every_steps = 100000
    resumed = train.train_and_evaluate(tiny_config, str(workdir))
    uninterrupted = train.train_and_evaluate(tiny_config, str(tmp_path / "uninterrupted"))
    assert_states_identical(resumed, uninterrupted)


def test_second_run_in_a_busy_workdir_is_refused_and_a_dead_runs_lock_is_taken_over(
    tiny_config, tmp_path
):
    workdir = tmp_path / "run"
    first = _start_training(
        workdir, "--config.num_train_steps=100000", f"--config.data_dir={tiny_config.data_dir}"
    )
    try:
        _wait_until((workdir / "checkpoints" / "3").exists, first, "a checkpoint")
        with pytest.raises(
            UserError, match=f"in use by another training run \\(process {first.pid} "
        ):
            train.train_and_evaluate(tiny_config, str(workdir))
        first.send_signal(signal.SIGKILL)  # leaves .lock behind, no longer held
        first.wait(timeout=30)
    finally:
        first.kill()
    assert (workdir / ".lock").exists()
    tiny_config.num_train_steps = (
        int(max(checkpointing.create_manager(workdir, tiny_config).all_steps())) + 3
    )
    state = train.train_and_evaluate(tiny_config, str(workdir))
    assert int(state.step) == tiny_config.num_train_steps


def test_early_error_leaves_one_message_and_no_background_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gan.main", "--config=configs/tiny.py", f"--workdir={tmp_path}"]
        + [f"--config.dataset=npz:{tmp_path / 'missing.npz'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_diverged_game_is_flagged_in_the_trace_and_can_stop_the_run(tiny_config, tmp_path):
    """A learning rate of 1e4 ends the game without a NaN: D certain, G's gradient gone.

    With the paper's BatchNorm D and no penalty; R1 on a layer-normalised D turns the same
    learning rate into NaNs, which the NaN guard stops instead.
    """
    tiny_config.d_norm, tiny_config.r1_gamma = "batch", 0.0
    tiny_config.learning_rate, tiny_config.d_learning_rate = 1e4, -1.0  # both players
    tiny_config.num_train_steps = 40
    tiny_config.log_every_steps = 1
    tiny_config.checkpoint_every_steps = tiny_config.sample_every_steps = 40
    tiny_config.divergence_reports = 3
    train.train_and_evaluate(tiny_config, str(tmp_path / "flagged"))
    with open(tmp_path / "flagged" / "trace.csv") as f:
        flags = [float(row["diverged"]) for row in csv.DictReader(f)]
    assert flags[-1] == 1.0 and flags[:3] == [0.0, 0.0, 0.0]

    tiny_config.stop_on_divergence = True
    with pytest.raises(TrainingDiverged, match="has diverged by step"):
        train.train_and_evaluate(tiny_config, str(tmp_path / "stopped"))

    tiny_config.learning_rate = 2e-4  # a healthy run is never flagged
    tiny_config.stop_on_divergence = False
    train.train_and_evaluate(tiny_config, str(tmp_path / "healthy"))
    with open(tmp_path / "healthy" / "trace.csv") as f:
        assert all(float(row["diverged"]) == 0.0 for row in csv.DictReader(f))


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 900 kB tmpfs: room for the tiny run's first checkpoint (550 kB with its EMA of G), its
    trace and TensorBoard file, not its second checkpoint."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", mount_point])
    if mounted.returncode:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    yield mount_point
    subprocess.run(["umount", "-l", mount_point], check=True)


def test_full_disk_mid_run_stops_with_a_clear_error_and_keeps_earlier_checkpoints(
    trained_run, tiny_filesystem, tmp_path
):
    _, config, reference = trained_run
    command = [sys.executable, "-m", "gan.main", "--config=configs/tiny.py"]
    full = subprocess.run(
        [*command, f"--workdir={tiny_filesystem / 'run'}", f"--config.data_dir={config.data_dir}"],
        cwd=REPO_ROOT,
        env=os.environ | {"JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir},
        capture_output=True,
        text=True,
        timeout=300,
    )
    message = " ".join(full.stderr.split())  # the paragraph is wrapped
    assert full.returncode == 1
    assert "failed (No space left on device). Training stopped." in message
    workdir = tmp_path / "moved"  # the user frees space: here, the workdir moves to a big disk
    shutil.copytree(tiny_filesystem / "run", workdir)
    kept = checkpointing.create_manager(workdir, config).all_steps()
    assert 6 not in kept  # the step whose save failed is not taken for a checkpoint
    assert f"intact (steps {kept})" in message
    resumed = train.train_and_evaluate(config, str(workdir))
    assert_states_identical(resumed, reference)


def _damage(checkpoint: pathlib.Path, how: str) -> None:
    """Damages the largest file of a checkpoint as a full disk, a lost file or a bad disk do."""
    largest = max((p for p in checkpoint.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    if how == "truncated":
        largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])
    elif how == "missing":
        largest.unlink()
    else:
        largest.write_bytes(np.random.default_rng(0).bytes(largest.stat().st_size))


@pytest.mark.parametrize("how", ["truncated", "missing", "garbage"])
def test_damaged_newest_checkpoint_is_set_aside_and_training_resumes_from_the_one_before(
    trained_run, tmp_path, how
):
    source, config, reference = trained_run
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir)
    _damage(workdir / "checkpoints" / "6", how)

    with pytest.raises(UserError, match="step 6 .* cannot be restored"):
        sample.restore_for_sampling(workdir, step=6)
    newest_good = sample.restore_for_sampling(workdir, step=None)  # read-only: leaves it there
    assert int(newest_good.step) == 3
    assert (workdir / "checkpoints" / "6").exists()

    resumed = train.train_and_evaluate(config, str(workdir))
    assert (workdir / checkpointing.SET_ASIDE_DIRECTORY / "6").is_dir()  # kept, not deleted
    assert checkpointing.create_manager(workdir, config).all_steps() == [3, 6]
    assert_states_identical(resumed, reference)


def test_generator_gradient_through_vjp_equals_direct_gradient(tiny_config):
    """The step reuses G's forward pass; its G update must equal plain autodiff of the G loss."""
    state = train.create_sharded_state(tiny_config, parallel.create_mesh())
    real = jax.random.uniform(jax.random.PRNGKey(1), (8, 32, 32, 3))
    new_state, _ = jax.jit(train.train_step)(state, {"image": real})

    @jax.jit
    def direct_g_update(state, d_params):
        z = jax.random.normal(jax.random.fold_in(state.rng, state.step), (8, 16))

        def g_loss(g_params):
            g_vars = {"params": g_params, "batch_stats": state.g_batch_stats}
            fake, _ = state.generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
            d_vars = {"params": d_params, "batch_stats": state.d_batch_stats}
            logits, _ = state.discriminator.apply(d_vars, fake, train=True, mutable=["batch_stats"])
            return losses.generator_loss(logits)

        updates, _ = state.g_tx.update(jax.grad(g_loss)(state.g_params), state.g_opt_state)
        return optax.apply_updates(state.g_params, updates)

    expected = direct_g_update(state, new_state.d_params)
    for got, want in zip(
        jax.tree.leaves(new_state.g_params), jax.tree.leaves(expected), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("model", ["dcgan", "resnet"])
def test_ema_samples_with_batchnorm_statistics_measured_on_the_ema_weights(tiny_config, model):
    """With an EMA, G samples from the EMA weights with BatchNorm statistics of those weights,
    not the running ones of the trained weights: in inference mode on the noise they were
    measured on, G draws what training mode draws from that batch's own statistics."""
    tiny_config.model, tiny_config.ema_decay = model, 0.999
    state = train.create_sharded_state(tiny_config, parallel.create_mesh())
    ema = jax.tree.map(lambda w: w * 1.5, state.g_params)  # far from the trained weights
    state = state.replace(g_ema_params=ema)
    z = sampling.latent_noise(
        sampling.STANDING_STATISTICS_SEED,
        sampling.STANDING_STATISTICS_BATCH,
        tiny_config.latent_dim,
    )
    in_training_mode, _ = state.generator.apply(
        {"params": ema, "batch_stats": state.g_batch_stats}, z, train=True, mutable=["batch_stats"]
    )
    np.testing.assert_allclose(sampling.generate(state, z), in_training_mode, atol=2e-3)
    with_running_statistics = state.generator.apply(
        {"params": ema, "batch_stats": state.g_batch_stats}, z, train=False
    )
    assert np.abs(with_running_statistics - in_training_mode).max() > 0.1
    without_ema = state.replace(g_ema_params=None)
    np.testing.assert_array_equal(
        sampling.generate(without_ema, z),
        state.generator.apply(
            {"params": state.g_params, "batch_stats": state.g_batch_stats}, z, train=False
        ),
    )


def test_sampling_is_deterministic_and_writes_png_and_npz(trained_run, tmp_path):
    workdir, config, _ = trained_run
    state = sample.restore_for_sampling(workdir, None)
    assert int(state.step) == 6
    z = sample.sample_noise(seed=3, num_samples=5, latent_dim=config.latent_dim, interpolate=False)
    first = sample.generate_uint8(state, z)
    np.testing.assert_array_equal(first, sample.generate_uint8(state, z))
    assert first.shape == (5, 32, 32, 3) and first.dtype == np.uint8
    other = sample.generate_uint8(state, sample.sample_noise(4, 5, config.latent_dim, False))
    assert not np.array_equal(first, other)

    sample.write_samples(first, tmp_path / "s.npz", columns=None)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npz")["images"], first)
    sample.write_samples(first, tmp_path / "s.png", columns=None)
    assert (tmp_path / "s.png").stat().st_size > 0

    earlier = sample.restore_for_sampling(workdir, 3)
    assert int(earlier.step) == 3
    with pytest.raises(UserError, match="No checkpoint at step 5"):
        sample.restore_for_sampling(workdir, 5)


def test_interpolation_walks_between_endpoints():
    z = sample.sample_noise(seed=0, num_samples=16, latent_dim=10, interpolate=True)
    rows = np.asarray(z).reshape(2, sample.INTERPOLATION_STEPS, 10)
    ends = np.asarray(sampling.latent_noise(0, 4, 10))
    np.testing.assert_allclose(rows[:, 0], ends[:2], atol=1e-5)
    np.testing.assert_allclose(rows[:, -1], ends[2:], atol=1e-5)
    with pytest.raises(UserError, match="multiple of 8"):
        sample.sample_noise(seed=0, num_samples=12, latent_dim=10, interpolate=True)


def test_incompatible_checkpoint_is_refused_and_nothing_changes(trained_run):
    workdir, config, _ = trained_run
    before = (workdir / "config.json").read_text()
    changed = config.copy_and_resolve_references()
    changed.ngf = 16
    changed.num_train_steps = 9
    with pytest.raises(UserError, match=r"incompatible config: ngf=8 in the checkpoint but 16 now"):
        train.train_and_evaluate(changed, str(workdir))
    assert (workdir / "config.json").read_text() == before
    assert checkpointing.create_manager(workdir, config).all_steps() == [3, 6]


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path, monkeypatch
):
    healthy_step = train.train_step

    def step_diverging_at_step_4(state, batch):
        new_state, metrics = healthy_step(state, batch)
        metrics["g_loss"] = jnp.where(new_state.step >= 4, jnp.nan, metrics["g_loss"])
        return new_state, metrics

    monkeypatch.setattr(train, "train_step", step_diverging_at_step_4)
    tiny_config.num_train_steps = 10
    tiny_config.checkpoint_every_steps = 1
    tiny_config.log_every_steps = 2
    with pytest.raises(
        TrainingDiverged, match=r"g_loss became NaN or infinite between steps 4 and 4"
    ):
        train.train_and_evaluate(tiny_config, str(tmp_path))
    assert checkpointing.create_manager(tmp_path, tiny_config).all_steps() == [2, 3]


def test_learning_rates_anneal_along_a_cosine_to_their_final_fraction(tiny_config):
    """Adam's step on a constant gradient is the learning rate itself, so the updates of a
    parameter with gradient 1 read the schedule off: G's per step, D's per critic update."""
    tiny_config.num_train_steps, tiny_config.learning_rate_decay, tiny_config.n_critic = 8, 0.25, 2
    tiny_config.learning_rate, tiny_config.d_learning_rate = 1e-3, 2e-3

    def rates(tx, updates):
        params = jnp.zeros(())
        state, seen = tx.init(params), []
        for _ in range(updates):
            update, state = tx.update(jnp.ones(()), state, params)
            seen.append(-float(update))
        return np.asarray(seen)

    def cosine(start, updates):
        progress = np.minimum(np.arange(updates + 2) / updates, 1.0)
        return start * (0.25 + 0.75 * 0.5 * (1 + np.cos(np.pi * progress)))

    g_tx, d_tx = train.create_optimizers(tiny_config)
    np.testing.assert_allclose(rates(g_tx, 10), cosine(1e-3, 8), rtol=1e-4)
    np.testing.assert_allclose(rates(d_tx, 18), cosine(2e-3, 16), rtol=1e-4)
    assert rates(g_tx, 10)[-1] == pytest.approx(0.25e-3, rel=1e-4)  # held after the last step


def test_r1_weight_anneals_from_gamma_to_its_final_value(tiny_config):
    tiny_config.num_train_steps, tiny_config.r1_gamma, tiny_config.r1_interval = 100, 0.1, 4
    tiny_config.r1_gamma_final = 0.01
    options = train.StepOptions.from_config(tiny_config)
    real = jnp.ones((2, 4, 4, 3))

    def weight_at(step):
        state = type("State", (), {"options": options, "step": jnp.asarray(step)})
        penalties = train._discriminator_penalties(
            state, lambda x: x.sum((1, 2, 3)), real, real, None
        )
        return float(penalties["r1"][0])

    assert weight_at(0) == pytest.approx(0.5 * 0.1 * 4)
    assert weight_at(50) == pytest.approx(0.5 * 0.055 * 4)
    assert weight_at(100) == pytest.approx(0.5 * 0.01 * 4) == pytest.approx(weight_at(400))


def test_r2_takes_r1s_weight_and_steps_on_the_generated_images(tiny_config):
    tiny_config.r1_gamma, tiny_config.r1_interval, tiny_config.r2_penalty = 0.1, 2, True
    options = train.StepOptions.from_config(tiny_config)
    real, fake = jnp.ones((2, 4, 4, 3)), jnp.ones((2, 4, 4, 3))

    def penalties_at(step):
        state = type("State", (), {"options": options, "step": jnp.asarray(step)})
        # D(x) = sum of squares: the input gradient 2x has squared norm 4 * sum(x^2).
        d_fn = lambda x: jnp.sum(jnp.square(x), (1, 2, 3))  # noqa: E731
        return train._discriminator_penalties(state, d_fn, real, 3 * fake, None)

    due, idle = penalties_at(4), penalties_at(5)
    assert due["r1"][0] == due["r2"][0] == pytest.approx(0.5 * 0.1 * 2)
    assert float(due["r1"][1]) == pytest.approx(4 * 48)
    assert float(due["r2"][1]) == pytest.approx(4 * 9 * 48)  # the fakes' own gradient
    assert float(idle["r1"][1]) == float(idle["r2"][1]) == 0.0
    tiny_config.r1_gamma = 0.0
    with pytest.raises(UserError, match="R2 takes R1's weight"):
        validation.validate_config(tiny_config)


def test_relativistic_run_with_r1_and_r2_trains(tiny_config, tmp_path):
    tiny_config.loss, tiny_config.r1_gamma, tiny_config.r2_penalty = "relativistic", 0.1, True
    tiny_config.d_norm = "layer"
    state = train.train_and_evaluate(tiny_config, str(tmp_path))
    assert int(state.step) == tiny_config.num_train_steps
    trace = read_trace(tmp_path)
    assert np.all(np.isfinite(trace["g_loss"])) and np.all(np.isfinite(trace["d_loss"]))


def test_packing_run_trains_and_conditional_packing_is_refused(tiny_config, tmp_path):
    tiny_config.d_packing, tiny_config.r1_gamma = 2, 0.1
    state = train.train_and_evaluate(tiny_config, str(tmp_path))
    assert int(state.step) == tiny_config.num_train_steps
    assert state.d_params["Conv_0"]["kernel"].shape[-2] == 2 * tiny_config.num_channels
    tiny_config.batch_size = 3 * jax.device_count()  # three images on each device
    with pytest.raises(UserError, match="must be a multiple of it"):
        validation.validate_config(tiny_config)
    tiny_config.batch_size, tiny_config.num_classes = 2 * jax.device_count(), 8
    with pytest.raises(UserError, match="a pack has several"):
        validation.validate_config(tiny_config)
    tiny_config.num_classes, tiny_config.model = 0, "resnet"
    with pytest.raises(UserError, match="the resnet D judges images one by one"):
        validation.validate_config(tiny_config)
