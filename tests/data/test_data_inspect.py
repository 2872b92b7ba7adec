"""Tests for `python -m gan.data` (gan/data/inspect.py, __main__.py): report and preview grid."""

import subprocess
import sys

import numpy as np
from PIL import Image

from gan.data.inspect import describe
from tests.conftest import REPO_ROOT


def test_report_counts_skipped_files_and_statistics(tmp_path, tiny_config):
    for i in range(9):
        Image.fromarray(np.full((20, 30, 3), 25 * i, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    tiny_config.dataset = f"folder:{tmp_path}"
    tiny_config.batch_size = 3
    lines, grid = describe(tiny_config, num_stats_images=9)
    report = "\n".join(lines)
    assert "images: 9 (this process), 1 skipped as unreadable: " in report
    assert "broken.jpg" in report
    assert "source resolution (HxW, first 256): 20x30 to 20x30" in report
    # Flat images of value 25*i: mean 100/255, std over the 9 levels.
    levels = np.arange(9) * 25 / 255
    assert f"R {levels.mean():.3f}/{levels.std():.3f}" in report
    assert grid.shape == (9, 32, 32, 3) and grid.dtype == np.uint8


def test_cli_writes_the_preview_grid(tmp_path, data_dir):
    out = tmp_path / "preview.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gan.data",
            "--config=configs/tiny.py",
            f"--config.data_dir={data_dir}",
            f"--out={out}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "images: 512 (this process), 0 skipped" in result.stdout
    assert Image.open(out).size == (8 * 34 + 2, 8 * 34 + 2)  # 8x8 grid of 32px, 2px padding
