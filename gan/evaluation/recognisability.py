"""Recognisability of `procedural_shapes` pictures: is one of the eight shapes drawn in it?

A classifier's confidence cannot say this: the dataset's evaluator names a shape with
confidence above 0.9 for blobs that only resemble one. This measure asks instead whether a
shape's exact outline explains the picture. It separates the saturated object from the smooth
background, places each of the eight outlines on it (at its centroid, with its area), draws
them as the dataset draws its shapes, and scores each by the overlap of the two masks. A picture
is recognisable when its best outline overlaps the object by at least `THRESHOLD`; the shape it
shows is that outline's. Nothing here is learned, so nothing here can be fooled by a generator
that learned to please a network.

Per picture:
1. Background: one quadratic surface per channel (the flat, gradient and vignette backgrounds
   are quadratic, the glow nearly so), fitted by least squares to the border band, which the
   dataset's shapes never reach, then refitted to every pixel away from the object found.
2. Object colour: the mean colour of the pixels that stand out most from the background, then
   of the object's interior.
3. Foreground fraction of each pixel: where its colour lies on the segment from the background
   to the object colour, clipped to [0, 1]; fractions below `NOISE_FLOOR` (film grain reaches
   about 0.1) count as background.
4. Each outline at the foreground's centroid, with the scale that gives it the foreground's
   area, anti-aliased and blurred as `procedural_shapes.render` does; score: the soft IoU
   sum(min) / sum(max) of the two fractions.

Blur lowers the score (a blurred edge spreads over pixels the outline does not have), and so do
a blob's missing corners, points and arms. `tests/evaluation/test_recognisability.py` shows
both on controls built from real images, and that real images pass.
"""

import concurrent.futures
import functools
import os

import numpy as np
import scipy.ndimage
from PIL import Image

from gan.data import procedural_shapes

SHAPES = procedural_shapes.SHAPES
SIZE = procedural_shapes.IMAGE_SIZE
# Soft IoU at which the best outline counts as recognised: above what blobs get (filled
# ellipses: median 0.68, 95th percentile 0.81) and what real shapes blurred by 3 px get (median
# 0.77-0.84 by shape), below real images (median 0.93-0.97 by shape, 98% above it).
# `python -m experiments.recognisability_controls` measures these; the tests check them.
THRESHOLD = 0.87
NOISE_FLOOR = 0.15
# The dataset keeps shape centres within 3.5 px of the image centre and their scale at most
# 18 px, so a band this wide along the border is background in every real image.
_BORDER_PX = 8
# Pixels within this distance of the first foreground estimate stay out of the background refit.
_MARGIN_PX = 3
# Pixels taken as the object's first colour estimate: fewer than the smallest shape holds.
_TOP_PIXELS = 16

_COLS = (np.arange(SIZE, dtype=np.float32) + 0.5)[None, :].repeat(SIZE, 0)
_ROWS = _COLS.T
_u, _v = (_COLS - SIZE / 2) / (SIZE / 2), (_ROWS - SIZE / 2) / (SIZE / 2)
# Quadratic surface basis, (64 * 64, 6).
_BASIS = np.stack([np.ones_like(_u), _u, _v, _u * _u, _u * _v, _v * _v], -1).reshape(-1, 6)
_BORDER = np.minimum(np.minimum(_COLS, SIZE - _COLS), np.minimum(_ROWS, SIZE - _ROWS)) < _BORDER_PX


@functools.cache
def unit_areas() -> np.ndarray:
    """Area in pixels of each outline at scale 1, measured on a large rendering."""
    scale = 24.0
    areas = [
        procedural_shapes.coverage(
            procedural_shapes.OUTLINES[name], SIZE / 2, SIZE / 2, scale
        ).sum()
        for name in SHAPES
    ]
    return np.asarray(areas) / scale**2


def _fit_background(pixels: np.ndarray, where: np.ndarray) -> np.ndarray:
    """(64 * 64, 3) quadratic surface fitted to `pixels` (64 * 64, 3) at the mask `where`."""
    basis = _BASIS[where]  # normal equations: a 6x6 solve, much faster than an SVD here
    coefficients = np.linalg.solve(basis.T @ basis, basis.T @ pixels[where])
    return _BASIS @ coefficients


def _fraction(pixels: np.ndarray, background: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Each pixel's position on the segment from its background to `colour`, in [0, 1]."""
    direction = colour - background
    along = np.sum((pixels - background) * direction, -1) / np.maximum(
        np.sum(direction * direction, -1), 1.0
    )
    return np.clip(along, 0.0, 1.0)


def foreground(image: np.ndarray) -> np.ndarray:
    """The object's foreground fraction in each pixel of one picture (steps 1-3 above).

    Args:
      image: uint8 or float (64, 64, 3), values in [0, 255].

    Returns:
      float32 (64, 64) in [0, 1]; 0 wherever the fraction is below `NOISE_FLOOR`.
    """
    # A 3x3 median per channel halves the film grain and keeps edges where they are.
    pixels = scipy.ndimage.median_filter(np.asarray(image, np.float32), size=(3, 3, 1))
    pixels = pixels.reshape(-1, 3)
    where = _BORDER.reshape(-1)
    for _ in range(2):
        background = _fit_background(pixels, where)
        distance = np.sum(np.square(pixels - background), -1)
        colour = pixels[np.argpartition(distance, -_TOP_PIXELS)[-_TOP_PIXELS:]].mean(0)
        fraction = _fraction(pixels, background, colour)
        interior = fraction > 0.6
        if interior.any():
            fraction = _fraction(pixels, background, pixels[interior].mean(0))
        near = scipy.ndimage.binary_dilation(
            (fraction > 0.5).reshape(SIZE, SIZE), iterations=_MARGIN_PX
        )
        where = ~near.reshape(-1)
        if where.sum() < 64:  # the object fills the picture: keep the border fit
            break
    fraction = fraction.reshape(SIZE, SIZE).astype(np.float32)
    return np.where(fraction < NOISE_FLOOR, 0.0, fraction).astype(np.float32)


def outline_fits(fraction: np.ndarray) -> np.ndarray:
    """Soft IoU of each of the eight outlines with a foreground fraction (step 4 above).

    Args:
      fraction: (64, 64) foreground fraction, e.g. from `foreground`.

    Returns:
      (8,) scores in [0, 1] in `SHAPES` order; zeros when there is no foreground.
    """
    if fraction.sum() < 4.0:
        return np.zeros(len(SHAPES), np.float32)
    scores = []
    for index in range(len(SHAPES)):
        template = placed_outline(fraction, index)
        scores.append(np.minimum(fraction, template).sum() / np.maximum(fraction, template).sum())
    return np.asarray(scores, np.float32)


def placed_outline(fraction: np.ndarray, index: int) -> np.ndarray:
    """Outline `SHAPES[index]` as step 4 places it on a foreground fraction (64, 64): at its
    centroid, with its area, drawn as the dataset draws its shapes."""
    area = float(fraction.sum())
    col = float((fraction * _COLS).sum()) / area
    row = float((fraction * _ROWS).sum()) / area
    scale = np.sqrt(area / unit_areas()[index])
    outline = procedural_shapes.OUTLINES[SHAPES[index]]
    template = procedural_shapes.coverage(outline, col, row, scale)
    return scipy.ndimage.gaussian_filter(template, procedural_shapes.BLUR_PX)


def _as_rgb64(image: np.ndarray) -> np.ndarray:
    """A uint8 (H, W, C) picture as (64, 64, 3): resized bilinearly, grey repeated to RGB."""
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, -1)
    if image.shape[:2] != (SIZE, SIZE):
        image = np.asarray(Image.fromarray(image).resize((SIZE, SIZE), Image.BILINEAR))
    return image


def shape_fits(images: np.ndarray) -> np.ndarray:
    """Scores of the eight outlines for every picture of a batch.

    Args:
      images: uint8 (N, H, W, C); pictures other than 64x64 RGB are resized and repeated.

    Returns:
      float32 (N, 8): column k is how well shape `SHAPES[k]` explains each picture.
    """
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:  # numpy drops the GIL
        return np.stack(list(pool.map(lambda x: outline_fits(foreground(_as_rgb64(x))), images)))


def summarise(fits: np.ndarray) -> dict[str, float]:
    """Scores of a batch from its `shape_fits`.

    Returns:
      'recognisable': the fraction of pictures whose best outline reaches `THRESHOLD`;
      'shape_fit': the mean best soft IoU; 'recognisable_<shape>': the share of each shape
      among the recognisable pictures (all 0 if none is), so that a generator that draws one
      shape well shows as one share near 1, not as a high fraction alone.
    """
    best = fits.max(1)
    recognised = best >= THRESHOLD
    shapes = fits.argmax(1)[recognised]
    counts = np.bincount(shapes, minlength=len(SHAPES))
    shares = counts / max(len(shapes), 1)
    return {
        "recognisable": float(recognised.mean()),
        "shape_fit": float(best.mean()),
        **{f"recognisable_{name}": float(s) for name, s in zip(SHAPES, shares, strict=True)},
    }


def recognisable_as(fits: np.ndarray, shapes: np.ndarray) -> float:
    """Fraction of pictures recognisable as the shape given for each (index into `SHAPES`):
    for samples of a generator conditioned on the shape, a stricter reading of its labels
    than a classifier's, which also names blobs."""
    return float(np.mean((fits.max(1) >= THRESHOLD) & (fits.argmax(1) == shapes)))
