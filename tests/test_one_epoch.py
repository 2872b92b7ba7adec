"""Tests for experiments/one_epoch.py: data variants render what they change, and a toy run."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from experiments import one_epoch
from gan.data import procedural_shapes
from tests.conftest import REPO_ROOT


def test_variants_change_only_the_rendering_they_name():
    shipped = one_epoch.render("shipped", 8)
    expected = np.stack([procedural_shapes.make_example("train", i)[0] for i in range(8)])
    np.testing.assert_array_equal(shipped, expected)
    # Without grain, blur or textures, a background pixel equals its neighbour exactly.
    clean = one_epoch.render("largest_clean_flat", 8)
    assert np.all(clean[:, 0, 0] == clean[:, 0, 1])
    assert not np.all(shipped[:, 0, 0] == shipped[:, 0, 1])
    # On black, nothing but the shape differs from 0.
    dark = one_epoch.render("larger_dark_clean", 8)
    assert np.all(dark[:, :4, :4] == 0)
    # The parent process keeps the shipped constants and factor sampling.
    assert procedural_shapes.SIZE_PX["small"] == 9.0
    assert procedural_shapes.sample_factors is one_epoch._independent_factors


def test_colour_by_shape_ties_only_the_colour():
    for index in range(50):
        shipped = procedural_shapes.sample_factors(procedural_shapes.example_rng("train", index))
        tied = one_epoch.colour_by_shape(procedural_shapes.example_rng("train", index))
        assert tied == shipped._replace(color=shipped.shape)


def run_one_epoch(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.one_epoch", "--num_images=256", "--num_steps=2"]
        + list(flags),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_toy_run_writes_samples_and_picture(tmp_path):
    result = run_one_epoch(f"--out={tmp_path}", "--variants=shipped,batch_32", "--num_samples=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "shipped, seed 0: D accuracy on real" in result.stdout
    arrays = np.load(tmp_path / "samples.npz")
    assert sorted(arrays.files) == ["batch_32_seed0", "real_shipped", "shipped_seed0"]
    assert arrays["shipped_seed0"].shape == (4, 64, 64, 3)
    assert arrays["shipped_seed0"].dtype == np.uint8
    assert arrays["shipped_seed0"].std() > 0  # the generator's output, not a blank array
    with Image.open(tmp_path / "one_epoch.png") as picture:
        assert picture.height > 2 * 64


def test_torch_control_trains_data_variants_only(tmp_path):
    pytest.importorskip("torch")
    result = run_one_epoch(
        f"--out={tmp_path}", "--variants=larger_dark_clean", "--frameworks=jax,torch"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "larger_dark_clean_torch, seed 0: D accuracy on real" in result.stdout
    arrays = np.load(tmp_path / "samples.npz")
    assert arrays["larger_dark_clean_torch_seed0"].shape == (16, 64, 64, 3)
    assert arrays["larger_dark_clean_torch_seed0"].std() > 0
    refused = run_one_epoch(f"--out={tmp_path}", "--variants=ndf_32", "--frameworks=torch")
    assert refused.returncode != 0
    assert "shipped recipe only" in refused.stderr
