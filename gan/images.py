"""Image batches as pictures: [-1, 1] floats to uint8, tiled grids, PNG files."""

import math
import pathlib

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Maps generator output in [-1, 1] to uint8 [0, 255], rounding to nearest."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tiles uint8 NHWC images into one HWC picture, rows filled left to right.

    Args:
      images: uint8 (N, H, W, C), C in {1, 3}.
      columns: images per row; defaults to the smallest square that fits N.
      padding: pixels of black between and around images.

    Returns:
      uint8 (rows * (H + padding) + padding, columns * (W + padding) + padding, C).
    """
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c), np.uint8
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (h + padding)
        left = padding + (index % columns) * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def save_png(picture: np.ndarray, path: pathlib.Path) -> None:
    """Writes a uint8 HWC picture (C = 1 or 3) as PNG, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture).save(path)
