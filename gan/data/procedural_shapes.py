"""Procedural shapes: the default training dataset, generated offline as a tfds builder.

The project must train out of the box with no download, so its default dataset is rendered
here from a seed: one saturated shape near the centre of a muted, smooth background, with a
slight blur and film grain, 64x64 RGB.
It is registered with tensorflow-datasets (`procedural_shapes`) so it is prepared once into the
tfds data dir and flows through exactly the same `tfds.load` path as any other dataset.

Every image is a pure function of (split, index): its random stream is seeded by both, so any
example can be regenerated alone, in any order, and train and test never share a stream. The
ground-truth factors (shape, colour, size, x, y, background) are stored as labels, which lets an
evaluation render images for chosen factors (`render`) and measure which factor combinations a
generator covers, i.e. make mode collapse measurable.
"""

import collections
import concurrent.futures
import dataclasses
import functools
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import scipy.ndimage
import tensorflow_datasets as tfds

IMAGE_SIZE = 64

# Fixed root of every example's random stream; changing it changes the whole dataset.
_SEED = 0x5EED
# Separate stream ids keep train and test disjoint however many examples each holds.
_SPLIT_STREAMS = {"train": 0, "test": 1}

# Saturated colours, far from any muted background, in label order.
PALETTE = {
    "red": (220, 30, 40),
    "orange": (255, 140, 20),
    "yellow": (255, 225, 40),
    "green": (40, 190, 60),
    "cyan": (30, 210, 220),
    "blue": (40, 90, 250),
    "purple": (140, 50, 230),
    "magenta": (240, 40, 200),
}
COLORS = tuple(PALETTE)
# Shape scale (about the circumradius) in pixels, per size label. Even the smallest shape spans
# a fifth of the image, so its outline survives the 4x4 bottleneck a DCGAN generator starts from.
SIZE_PX = {"small": 9.0, "medium": 12.0, "large": 15.0, "huge": 18.0}
SIZES = tuple(SIZE_PX)
# Centre in pixels of each position cell, left to right (x) and top to bottom (y): near the
# image centre, as faces in aligned CelebA or digits in MNIST. A DCGAN generator starts from a
# 4x4 map; with shapes anywhere on a 6x6 grid (version 2) it drew only blobs after an epoch,
# with shapes near the centre it draws them.
POSITION_PX = np.array([29.0, 32.0, 35.0], np.float32)
POSITIONS = tuple(str(i) for i in range(len(POSITION_PX)))

# Random offset of the shape centre within its cell (pixels) and of its colour per channel:
# small enough that the labels stay unambiguous, large enough that no two images are identical.
_JITTER_PX = 0.5
_COLOR_JITTER = 10.0
# Backgrounds: a grey level plus a faint tint keeps them muted. Every texture is smooth (no
# edges, nothing finer than half the image): an earlier version with stripes and checkerboards
# let the discriminator win on background texture alone before the generator drew any shape.
# Texture amplitudes (added to all channels) stay low so the shape dominates the image.
# Then the whole image is blurred slightly and gets film grain, so that, as in photographs, no
# region is perfectly flat or perfectly sharp: on clean synthetic images the discriminator wins
# on the generator's faint high-frequency artefacts alone, long before shapes are learned.
_BG_GREY = (60.0, 180.0)
_BG_TINT = 20.0
_BG_TEXTURE_AMPLITUDE = {"flat": 0.0, "gradient": 25.0, "vignette": 30.0, "glow": 30.0}
BLUR_PX = 0.8  # standard deviation of the Gaussian blur, in pixels
GRAIN = 12.0  # standard deviation of the per-pixel, per-channel Gaussian grain (0-255 scale)

# Pixel-centre coordinates (float32 keeps rendering fast): columns left to right, rows top to
# bottom. The shape functions take y pointing up, so shapes such as the triangle stand upright.
_COLS = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
_ROWS = _COLS[:, None]


class Factors(NamedTuple):
    """Ground-truth factors of one image, each an index into its name list (e.g. `SHAPES`)."""

    shape: int
    color: int
    size: int
    x: int
    y: int
    background: int


def _box(px: np.ndarray, py: np.ndarray, hx: float, hy: float) -> np.ndarray:
    dx, dy = np.abs(px) - hx, np.abs(py) - hy
    outside = np.hypot(np.maximum(dx, 0.0), np.maximum(dy, 0.0))
    return outside + np.minimum(np.maximum(dx, dy), 0.0)


def _circle(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    return np.hypot(px, py) - s


def _square(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    return _box(px, py, 0.8 * s, 0.8 * s)


def _triangle(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    """Upright equilateral triangle with circumradius `s` (Inigo Quilez's exact SDF)."""
    k = math.sqrt(3.0)
    r = s * k / 2
    qx, qy = np.abs(px) - r, py + r / k
    fold = qx + k * qy > 0
    qx, qy = np.where(fold, (qx - k * qy) / 2, qx), np.where(fold, (-k * qx - qy) / 2, qy)
    qx = qx - np.clip(qx, -2 * r, 0.0)
    return -np.hypot(qx, qy) * np.sign(qy)


def _diamond(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    """Rhombus taller than wide, so it never reads as a rotated square."""
    bx, by = 0.7 * s, s
    qx, qy = np.abs(px), np.abs(py)
    h = np.clip(((bx - 2 * qx) * bx - (by - 2 * qy) * by) / (bx**2 + by**2), -1.0, 1.0)
    d = np.hypot(qx - 0.5 * bx * (1 - h), qy - 0.5 * by * (1 + h))
    return d * np.sign(qx * by + qy * bx - bx * by)


def _ring(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    return np.abs(np.hypot(px, py) - 0.7 * s) - 0.3 * s


def _plus(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    return np.minimum(_box(px, py, s, 0.34 * s), _box(px, py, 0.34 * s, s))


def _star(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    """Five-pointed star with outer radius `s`: fold into one arm, then a segment distance."""
    k1x, k1y = 0.809016994375, -0.587785252292
    qx, qy = np.abs(px), py
    for kx, ky in ((k1x, k1y), (-k1x, k1y)):
        d = np.maximum(kx * qx + ky * qy, 0.0)
        qx, qy = qx - 2 * d * kx, qy - 2 * d * ky
    qx, qy = np.abs(qx), qy - s
    bax, bay = -0.5 * k1y, 0.5 * k1x - 1.0
    h = np.clip((qx * bax + qy * bay) / (bax**2 + bay**2), 0.0, s)
    return np.hypot(qx - bax * h, qy - bay * h) * np.sign(qy * bax - qx * bay)


def _hexagon(px: np.ndarray, py: np.ndarray, s: float) -> np.ndarray:
    kx, ky, kz = -0.866025404, 0.5, 0.577350269
    r = 0.87 * s
    qx, qy = np.abs(px), np.abs(py)
    d = np.minimum(kx * qx + ky * qy, 0.0)
    qx, qy = qx - 2 * d * kx, qy - 2 * d * ky
    qx, qy = qx - np.clip(qx, -kz * r, kz * r), qy - r
    return np.hypot(qx, qy) * np.sign(qy)


# A shape's outline: signed distance (pixels, negative inside) of points (px, py) to the shape
# centred at the origin with scale s.
Outline = Callable[[np.ndarray, np.ndarray, float], np.ndarray]
# The outline of each shape, in label order.
OUTLINES: dict[str, Outline] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "diamond": _diamond,
    "ring": _ring,
    "plus": _plus,
    "star": _star,
    "hexagon": _hexagon,
}
SHAPES = tuple(OUTLINES)


def _direction(rng: np.random.Generator) -> tuple[float, float]:
    """Returns a random unit vector as Python floats, which keep float32 grids in float32."""
    angle = rng.uniform(0.0, 2 * math.pi)
    return math.cos(angle), math.sin(angle)


def _gradient(rng: np.random.Generator) -> np.ndarray:
    cos, sin = _direction(rng)
    # Scaled so that the image corners reach -1 and 1 whatever the direction.
    along = (_COLS - IMAGE_SIZE / 2) * cos + (_ROWS - IMAGE_SIZE / 2) * sin
    return along / (IMAGE_SIZE / 2 * (abs(cos) + abs(sin)))


def _vignette(rng: np.random.Generator) -> np.ndarray:
    """Bright centre fading to dark corners, or the reverse: 1 at the centre, -1 at the corners."""
    radius = np.hypot(_COLS - IMAGE_SIZE / 2, _ROWS - IMAGE_SIZE / 2) / (IMAGE_SIZE / math.sqrt(2))
    return rng.choice((-1.0, 1.0)) * (1.0 - 2.0 * radius**2)


def _glow(rng: np.random.Generator) -> np.ndarray:
    """A soft bright patch, half the image wide, centred anywhere in the image."""
    centre_x, centre_y = rng.uniform(0.0, IMAGE_SIZE, size=2)
    squared_distance = (_COLS - centre_x) ** 2 + (_ROWS - centre_y) ** 2
    return 2.0 * np.exp(-squared_distance / (2 * (IMAGE_SIZE / 4) ** 2)) - 1.0


# Background texture in [-1, 1] (broadcastable to (64, 64)) by kind, in label order.
_TEXTURES: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "flat": lambda rng: np.zeros((1, 1), np.float32),
    "gradient": _gradient,
    "vignette": _vignette,
    "glow": _glow,
}
BACKGROUNDS = tuple(_TEXTURES)

# Label name lists by feature name; the order matches `Factors`.
FACTORS = {
    "shape": SHAPES,
    "color": COLORS,
    "size": SIZES,
    "x": POSITIONS,
    "y": POSITIONS,
    "background": BACKGROUNDS,
}


def example_rng(split: str, index: int) -> np.random.Generator:
    """Returns the random stream of one example, independent of every other example.

    Args:
      split: 'train' or 'test'.
      index: example index within the split, >= 0.

    Returns:
      A generator seeded by (dataset seed, split, index).
    """
    return np.random.default_rng([_SEED, _SPLIT_STREAMS[split], index])


def sample_factors(rng: np.random.Generator) -> Factors:
    """Draws every factor independently and uniformly, so all combinations are equally likely.

    Args:
      rng: random stream, e.g. from `example_rng`.

    Returns:
      The sampled factors.
    """
    return Factors(*(int(rng.integers(len(names))) for names in FACTORS.values()))


def _background(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Returns a muted (64, 64, 3) float background: tinted grey plus a faint texture."""
    base = rng.uniform(*_BG_GREY) + rng.uniform(-_BG_TINT, _BG_TINT, size=3)
    texture = _BG_TEXTURE_AMPLITUDE[kind] * _TEXTURES[kind](rng)
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    return np.broadcast_to(base.astype(np.float32) + texture[..., None], shape).copy()


def coverage(
    outline: Outline,
    col: float,
    row: float,
    scale: float,
    rows: slice = slice(None),
    cols: slice = slice(None),
) -> np.ndarray:
    """The fraction of each pixel an outline covers, anti-aliased over one pixel of its edge.

    Args:
      outline: e.g. `OUTLINES["star"]`.
      col, row: centre in pixels (columns left to right, rows top to bottom).
      scale: the outline's scale `s` (about the circumradius), in pixels.
      rows, cols: the window of the 64x64 image to cover (all of it by default).

    Returns:
      float32 coverage in [0, 1], the window's shape.
    """
    sdf = outline(_COLS[cols] - col, row - _ROWS[rows], scale)
    return np.clip(0.5 - sdf, 0.0, 1.0)


def draw(factors: Factors, rng: np.random.Generator, outline: Outline | None = None) -> np.ndarray:
    """The clean picture of `render`: the shape on its background, before blur and grain.

    Args:
      factors: the factors to draw.
      rng: random stream for the nuisances (see `render`).
      outline: drawn instead of the factors' shape if given (to build controls: the same image
        with another outline), at the same scale, centre and colour.

    Returns:
      A float32 (64, 64, 3) image in [0, 255] (before rounding).
    """
    image = _background(BACKGROUNDS[factors.background], rng)
    scale = SIZE_PX[SIZES[factors.size]]
    col = POSITION_PX[factors.x] + rng.uniform(-_JITTER_PX, _JITTER_PX)
    row = POSITION_PX[factors.y] + rng.uniform(-_JITTER_PX, _JITTER_PX)
    # Only the shape's bounding box (plus the anti-aliased edge) can differ from the background.
    rows = slice(max(int(row - scale) - 2, 0), min(int(row + scale) + 3, IMAGE_SIZE))
    cols = slice(max(int(col - scale) - 2, 0), min(int(col + scale) + 3, IMAGE_SIZE))
    outline = outline or OUTLINES[SHAPES[factors.shape]]
    alpha = coverage(outline, col, row, scale, rows, cols)[..., None]
    color = np.asarray(PALETTE[COLORS[factors.color]]) + rng.uniform(
        -_COLOR_JITTER, _COLOR_JITTER, size=3
    )
    image[rows, cols] = (1 - alpha) * image[rows, cols] + alpha * color.astype(np.float32)
    return image


def render(
    factors: Factors, rng: np.random.Generator, outline: Outline | None = None
) -> np.ndarray:
    """Renders one image with the given factors: `draw`, then a slight blur and film grain.

    The factors fix what the labels describe; `rng` only draws the nuisances the labels leave
    open: sub-cell jitter of the centre, a small colour jitter, the background colour, the
    texture's direction, sign or centre, and the grain.

    Args:
      factors: the factors to render.
      rng: random stream for the nuisances.
      outline: drawn instead of the factors' shape if given (see `draw`).

    Returns:
      A uint8 image of shape (64, 64, 3).
    """
    image = scipy.ndimage.gaussian_filter(
        draw(factors, rng, outline), sigma=(BLUR_PX, BLUR_PX, 0.0)
    )
    image += rng.normal(0.0, GRAIN, image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def make_example(split: str, index: int) -> tuple[np.ndarray, Factors]:
    """Returns the image and factors of example `index` of `split`, exactly as stored by tfds.

    Args:
      split: 'train' or 'test'.
      index: example index within the split, >= 0.

    Returns:
      The uint8 (64, 64, 3) image and its factors.
    """
    rng = example_rng(split, index)
    factors = sample_factors(rng)
    return render(factors, rng), factors


@dataclasses.dataclass(eq=False, kw_only=True)
class ProceduralShapesConfig(tfds.core.BuilderConfig):
    """Config of `ProceduralShapes`: how many examples each split holds.

    Attributes:
      num_train: number of train examples.
      num_test: number of test examples.
    """

    num_train: int
    num_test: int


_DESCRIPTION = f"""\
Procedural shapes: 64x64 RGB images of one saturated shape near the centre of a muted,
smooth background, slightly blurred and with film grain, rendered deterministically from a
seed with no download.

Factors, all stored as labels:
- shape: {", ".join(SHAPES)}
- color: {", ".join(COLORS)}
- size: {", ".join(SIZES)}
- x, y: cell of the shape centre, {len(POSITIONS)} per axis near the image centre (jitter inside)
- background: {", ".join(BACKGROUNDS)} (each in a random muted colour)

The {math.prod(map(len, FACTORS.values())):,} equally likely factor combinations make mode
collapse measurable.
"""


class ProceduralShapes(tfds.core.GeneratorBasedBuilder):
    """Procedural shapes with ground-truth factor labels, generated offline."""

    VERSION = tfds.core.Version("3.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "2.0.0": "Larger shapes; smooth backgrounds (vignette, glow) replace stripes and checker.",
        "3.0.0": "Shapes near the centre (3 x 3 positions); slight blur and film grain.",
    }
    BUILDER_CONFIGS = [
        ProceduralShapesConfig(
            name="default",
            description="Full dataset: 100,000 train and 10,000 test images.",
            num_train=100_000,
            num_test=10_000,
        ),
        ProceduralShapesConfig(
            name="tiny",
            description="For tests and smoke runs: 512 train and 128 test images.",
            num_train=512,
            num_test=128,
        ),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3))}
        for name, names in FACTORS.items():
            features[name] = tfds.features.ClassLabel(names=names)
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(features),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict:
        del dl_manager  # Everything is generated locally.
        return {
            "train": self._generate_examples("train", self.builder_config.num_train),
            "test": self._generate_examples("test", self.builder_config.num_test),
        }

    def _generate_examples(self, split: str, num_examples: int) -> Iterator[tuple[int, dict]]:
        for index, (image, factors) in enumerate(render_examples(split, num_examples)):
            yield index, {"image": image, **factors._asdict()}


# Below this many images one process renders them: starting workers would cost more.
PARALLEL_MIN_EXAMPLES = 5_000
# Images rendered per block; a few blocks are in flight at once, which bounds the memory held.
RENDER_BLOCK = 2_048


def render_examples(
    split: str, num_examples: int, workers: int | None = None
) -> Iterator[tuple[np.ndarray, Factors]]:
    """`make_example(split, i)` for i = 0 .. num_examples - 1, in order, on every CPU core.

    Every example is a pure function of (split, index), so the images are the same whichever
    process renders them, and so are the dataset's bytes. Rendering is most of the generation
    time; tfds encodes and writes in this process meanwhile. The workers are spawned, not
    forked: forking a process in which TensorFlow or JAX has started its threads can deadlock.

    Args:
      split: "train" or "test".
      num_examples: how many, from index 0.
      workers: processes that render (default: one per CPU core; 0 renders here, as does any
        count below PARALLEL_MIN_EXAMPLES when workers is None).
    """
    if workers is None:
        workers = (os.cpu_count() or 1) if num_examples >= PARALLEL_MIN_EXAMPLES else 0
    if workers == 0:
        yield from (make_example(split, index) for index in range(num_examples))
        return
    render = functools.partial(make_example, split)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        in_flight = collections.deque()
        for start in range(0, num_examples, RENDER_BLOCK):
            block = range(start, min(start + RENDER_BLOCK, num_examples))
            in_flight.append(pool.map(render, block, chunksize=64))
            if len(in_flight) > 2:
                yield from in_flight.popleft()
        while in_flight:
            yield from in_flight.popleft()
