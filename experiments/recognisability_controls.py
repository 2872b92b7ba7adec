"""Controls of the recognisability measure: real test images, and the same images blurred or
with their shape replaced by a blob, scored per shape.

    python -m experiments.recognisability_controls --out=docs/images --num_images=2000

Prints, for every control, the fraction of images the measure calls recognisable, overall and
per true shape, and writes `recognisability_controls.png` (a row of images per control, each
labelled with its best outline and score). A measure of recognisable shapes is only as good as
its failures on these: it must pass real images and reject blurred shapes and blobs.

- real: test images of `procedural_shapes`, as stored.
- blurred: the same images blurred by a Gaussian of 3 px.
- ellipse: the same images (same background, colour, centre, grain) with the shape drawn as a
  filled ellipse of the same area, axes 1.5 to 2.5 to 1 in any direction. Round blobs are not
  used: a round blob of a square's area is a fine circle, and is rightly recognised as one (a
  generator that draws only round blobs shows as a recognisable share near 1 for circles). The
  circle and the hexagon, which an ellipse resembles, are left out.
"""

import math
import pathlib

import numpy as np
import scipy.ndimage
from absl import app, flags
from PIL import Image, ImageDraw

from gan.data import procedural_shapes
from gan.evaluation import recognisability

BLUR_SIGMA_PX = 3.0
ELLIPSE_ASPECTS = (1.5, 2.5)
# Shapes an ellipse resembles, left out of the ellipse control.
ROUND_SHAPES = ("circle", "hexagon")


def ellipse_outline(area_per_scale2: float, aspect: float, angle: float):
    """An outline (`procedural_shapes.Outline`) of a filled ellipse with the area a shape of
    unit area `area_per_scale2` has at the same scale, its long axis `aspect` times its short
    one, turned by `angle` radians."""
    cos, sin = math.cos(angle), math.sin(angle)

    def outline(px, py, s):
        area = area_per_scale2 * s * s
        a, b = math.sqrt(area * aspect / math.pi), math.sqrt(area / (aspect * math.pi))
        u, v = (px * cos + py * sin) / a, (-px * sin + py * cos) / b
        level = np.sqrt(u * u + v * v)
        gradient = np.sqrt((u / a) ** 2 + (v / b) ** 2) / np.maximum(level, 1e-6)
        return (level - 1.0) / np.maximum(gradient, 1e-6)  # distance to first order

    return outline


def control_image(kind: str, index: int) -> tuple[np.ndarray, int]:
    """Test image `index` as control `kind` ('real', 'blurred', 'ellipse') and its shape."""
    rng = procedural_shapes.example_rng("test", index)
    factors = procedural_shapes.sample_factors(rng)
    if kind == "ellipse":
        choice = np.random.default_rng(index)  # the ellipse's own stream: the image's is kept
        aspect = choice.uniform(*ELLIPSE_ASPECTS)
        unit_area = recognisability.unit_areas()[factors.shape]
        outline = ellipse_outline(unit_area, aspect, choice.uniform(0, math.pi))
        return procedural_shapes.render(factors, rng, outline), factors.shape
    image = procedural_shapes.render(factors, rng)
    if kind == "blurred":
        sigma = (BLUR_SIGMA_PX, BLUR_SIGMA_PX, 0.0)
        blurred = scipy.ndimage.gaussian_filter(image.astype(np.float32), sigma)
        image = np.clip(np.round(blurred), 0, 255).astype(np.uint8)
    return image, factors.shape


def controls(kind: str, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `num_images` eligible test images as control `kind`, and their shapes."""
    pictures, shapes = [], []
    index = 0
    while len(pictures) < num_images:
        image, shape = control_image(kind, index)
        index += 1
        if kind == "ellipse" and procedural_shapes.SHAPES[shape] in ROUND_SHAPES:
            continue
        pictures.append(image)
        shapes.append(shape)
    return np.stack(pictures), np.asarray(shapes)


KINDS = ("real", "blurred", "ellipse")


def score_table(fits: dict[str, np.ndarray], shapes: dict[str, np.ndarray]) -> str:
    """A markdown table: per control, the recognisable fraction overall and per true shape."""
    names = recognisability.SHAPES
    lines = [
        "| control | all | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for kind in fits:
        recognised = fits[kind].max(1) >= recognisability.THRESHOLD
        cells = [f"{recognised.mean():.3f}"]
        for index in range(len(names)):
            of_shape = shapes[kind] == index
            cells.append(f"{recognised[of_shape].mean():.3f}" if of_shape.any() else "-")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw_examples(rows: dict[str, tuple[np.ndarray, np.ndarray]], per_row: int) -> Image.Image:
    """`per_row` images per control, each captioned with its best outline and score."""
    tile, caption, label_width = 64, 12, 60
    picture = Image.new(
        "RGB", (label_width + per_row * (tile + 2), len(rows) * (tile + caption + 4)), "white"
    )
    pen = ImageDraw.Draw(picture)
    for row, (kind, (pictures, fits)) in enumerate(rows.items()):
        top = row * (tile + caption + 4)
        pen.text((2, top + tile // 2), kind, fill="black")
        for column in range(per_row):
            left = label_width + column * (tile + 2)
            picture.paste(Image.fromarray(pictures[column]), (left, top))
            best = int(fits[column].argmax())
            score = float(fits[column, best])
            mark = "" if score >= recognisability.THRESHOLD else "x "
            text = f"{mark}{recognisability.SHAPES[best][:4]} {score:.2f}"
            pen.text((left + 1, top + tile), text, fill="black" if mark == "" else "red")
    return picture


def main(argv):
    del argv
    out = pathlib.Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    fits, shapes, rows = {}, {}, {}
    for kind in KINDS:
        pictures, shapes[kind] = controls(kind, FLAGS.num_images)
        fits[kind] = recognisability.shape_fits(pictures)
        rows[kind] = (pictures, fits[kind])
    print(
        f"Recognisable (soft IoU >= {recognisability.THRESHOLD}), {FLAGS.num_images} images each:"
    )
    print(score_table(fits, shapes))
    draw_examples(rows, per_row=12).save(out / "recognisability_controls.png")


if __name__ == "__main__":
    flags.DEFINE_string("out", None, "Directory for recognisability_controls.png.")
    flags.DEFINE_integer("num_images", 2000, "Test images per control.")
    flags.mark_flags_as_required(["out"])
    FLAGS = flags.FLAGS
    app.run(main)
