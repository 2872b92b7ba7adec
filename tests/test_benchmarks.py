"""Smoke runs of the benchmark scripts on the tiny config: they run and end with their ratio line.

The numbers themselves are not checked: timings belong in benchmark output, not in tests.
"""

import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from benchmarks import xla_convolutions
from gan.models import strided_conv
from tests.conftest import REPO_ROOT


def _command(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def _run(*args):
    result = _command(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()


def test_train_step_benchmark_prints_its_summary_line():
    lines = _run(
        "benchmarks.train_step",
        "--config=configs/tiny.py",
        "--steps=1",
        "--warmup=0",
        "--repeats=1",
    )
    assert re.fullmatch(r"img_per_s=\d+\.\d", lines[-1])
    assert any(line.startswith("jax: compile") and "peak RSS" in line for line in lines)


def test_torch_comparison_refuses_a_recipe_the_reference_does_not_train():
    """configs/tiny.py has the default's layer-normalised, packing D, R1 and EMA: no PyTorch
    twin."""
    result = _command("benchmarks.train_step", "--config=configs/tiny.py", "--compare-torch")
    stderr = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "differs from it in d_norm='layer', d_packing=2, r1_gamma=0.1, ema_decay=0.999" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("name", ["conv_down", "conv_up"])
def test_xla_convolutions_compute_the_strided_conv_operators(name):
    """`--xla-convolutions` times the same operators: outputs and both gradients agree."""
    x_key, kernel_key = jax.random.split(jax.random.key(0))
    x = jax.random.normal(x_key, (2, 8, 8, 5))
    kernel = jax.random.normal(kernel_key, (4, 4, 5, 5))

    def loss(op):
        return lambda x, kernel: (op(x, kernel) ** 2).sum()

    ours = jax.value_and_grad(loss(getattr(strided_conv, name)), argnums=(0, 1))(x, kernel)
    xla = jax.value_and_grad(loss(getattr(xla_convolutions, name)), argnums=(0, 1))(x, kernel)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(xla), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_input_pipeline_benchmark_compares_with_training(data_dir):
    lines = _run(
        "benchmarks.input_pipeline",
        "--config=configs/tiny.py",
        f"--config.data_dir={data_dir}",
        "--folder_images=24",
        "--batches=3",
        "--train_steps=1",
        "--train_repeats=1",
    )
    assert re.fullmatch(
        r"train_img_per_s=\d+\.\d min_pipeline_img_per_s=\d+\.\d ratio=\d+\.\d+", lines[-1]
    )
    # procedural_shapes: decoded, mapped, streamed; the folder: decoded, streamed.
    assert (
        sum(f" {path} " in line for line in lines for path in ("decoded", "mapped", "streamed"))
        == 5
    )


def test_training_loop_benchmark_compares_loop_and_step(data_dir):
    lines = _run(
        "benchmarks.training_loop",
        "--config=configs/tiny.py",
        f"--config.data_dir={data_dir}",
        "--steps=4",
        "--every=2",
    )
    assert re.fullmatch(
        r"step_img_per_s=\d+\.\d loop_img_per_s=\d+\.\d overhead=-?\d+\.\d%", lines[-1]
    )
