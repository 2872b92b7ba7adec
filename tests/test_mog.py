"""Tests for experiments/mog.py: the scores on known point sets, and a short real run.

The short run is a regression test of training dynamics: after 3,000 steps the MLP GAN on the
8-mode ring has spread its samples over several modes (reverse KL about 0.5-0.9 nats, against
log 8 = 2.08 for a generator stuck on one mode, where it still is after 1,500 steps), which a
broken loss or update would not do.
"""

import json
import subprocess
import sys

import numpy as np

from experiments import mog
from tests.conftest import REPO_ROOT


def test_scores_of_perfect_and_collapsed_samples():
    centres = mog.mode_centres("ring")
    rng = np.random.default_rng(0)
    perfect = centres[rng.integers(0, 8, 4_000)] + mog.MODE_STD * rng.normal(size=(4_000, 2))
    scores = mog.score(perfect, centres, min_mode_count=20)
    assert scores["modes"] == 8
    assert scores["high_quality_pct"] > 98.0  # 3 standard deviations hold ~99% in 2-D
    assert scores["reverse_kl"] < 0.01

    collapsed = centres[:1] + mog.MODE_STD * rng.normal(size=(1_000, 2))
    scores = mog.score(collapsed, centres, min_mode_count=20)
    assert scores["modes"] == 1
    assert scores["reverse_kl"] == np.log(8)  # all mass on one of 8 equally likely modes

    far = np.full((100, 2), 10.0)
    assert mog.score(far, centres, min_mode_count=20)["high_quality_pct"] == 0.0


def test_grid_has_25_modes_two_apart():
    centres = mog.mode_centres("grid")
    assert centres.shape == (25, 2)
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert np.min(distances[distances > 0]) == 2.0


def test_short_run_covers_the_ring_and_writes_its_files(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.mog",
            f"--out={tmp_path}",
            "--datasets=ring",
            "--num_steps=3000",
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
    results = json.loads((tmp_path / "results.json").read_text())["ring"]
    assert all(seed["reverse_kl"] < 1.2 for seed in results["per_seed"]), results["per_seed"]
