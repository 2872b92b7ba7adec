"""Tests for experiments/mog.py: the scores on known point sets, and a short real run.

The short run is a regression test of training dynamics at the benchmark's own settings
(PacGAN's networks, Adam 1e-4): after 1,000 steps on the 8-mode ring each seed has points within
3 standard deviations of 5 modes and its reverse KL is 0.02-0.07 nats. An untrained generator
puts its points in one blob near the origin, no mode covered and reverse KL 0.8-1.0 nats; 50
steps later the blob sits on one mode (2.0 nats, of at most log 8 = 2.08). A broken loss or
update stays there; the thresholds (3 modes, 0.5 nats) leave room for the noise of 2 seeds."""

import json
import subprocess
import sys

import numpy as np

from experiments import mog
from tests.conftest import REPO_ROOT


def test_scores_of_perfect_and_collapsed_samples():
    target = mog.make_target("ring")
    rng = np.random.default_rng(0)
    perfect = target.centres[rng.integers(0, 8, 4_000)] + target.std * rng.normal(size=(4_000, 2))
    scores = mog.score(perfect, target, min_mode_count=1)
    assert scores["modes"] == 8
    assert scores["high_quality_pct"] > 98.0  # 3 standard deviations hold ~99% in 2-D
    assert scores["reverse_kl"] < 0.01

    collapsed = target.centres[:1] + target.std * rng.normal(size=(1_000, 2))
    scores = mog.score(collapsed, target, min_mode_count=1)
    assert scores["modes"] == 1
    assert scores["reverse_kl"] == np.log(8)  # all mass on one of 8 equally likely modes

    far = np.full((100, 2), 10.0)
    assert mog.score(far, target, min_mode_count=1)["high_quality_pct"] == 0.0


def test_one_high_quality_point_covers_a_mode_unless_more_are_required():
    target = mog.make_target("ring")
    points = np.concatenate([target.centres[:1], np.zeros((9, 2))])  # 1 on a mode, 9 between
    assert mog.score(points, target, min_mode_count=1)["modes"] == 1
    assert mog.score(points, target, min_mode_count=2)["modes"] == 0


def test_targets_match_pacgan():
    ring = mog.make_target("ring")
    assert ring.centres.shape == (8, 2) and ring.std == 0.01
    np.testing.assert_allclose(np.linalg.norm(ring.centres, axis=1), 1.0)
    grid = mog.make_target("grid")
    assert grid.centres.shape == (25, 2) and grid.std == 0.05
    distances = np.linalg.norm(grid.centres[:, None] - grid.centres[None], axis=-1)
    assert np.min(distances[distances > 0]) == 2.0
    assert np.abs(grid.centres).max() == 4.0


def test_short_run_covers_the_ring_and_writes_its_files(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.mog",
            f"--out={tmp_path}",
            "--datasets=ring",
            "--num_steps=1000",
            "--num_seeds=2",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| ring (8 modes), 2 seeds |" in result.stdout
    points = np.load(tmp_path / "samples_ring.npy")
    assert points.shape == (2_500, 2) and np.all(np.isfinite(points))
    assert (tmp_path / "samples_ring.png").stat().st_size > 0
    per_seed = json.loads((tmp_path / "results.json").read_text())["ring"]["per_seed"]
    assert all(seed["modes"] >= 3 for seed in per_seed), per_seed
    assert all(seed["reverse_kl"] < 0.5 for seed in per_seed), per_seed
