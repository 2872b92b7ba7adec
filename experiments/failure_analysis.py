"""Why a run's samples fail the recognisability measure, and what its discriminator looks at.

    python -m experiments.failure_analysis --run=runs/dcgan --step=18000 --num_samples=1000

Two tables for one checkpoint of a run on procedural_shapes:

1. Recognisable share of real test images and of fixed-noise samples, by the object's area
   (foreground pixels, `gan.evaluation.recognisability.foreground`) and by the best-fitting
   outline: which sizes and shapes G fails to draw sharply enough.
2. D's verdict (training mode, batches of 32 as in a D update) on real images from the training
   and the test split (does D memorise?), on test images with the film grain taken out (3x3
   median) or put back after a blur of 0.5-1.5 px (does D judge grain or edges?), on test
   images with an ellipse of the same area in place of their shape, or with their shape
   blended with another (does D know the outlines, or only colour, size and sharpness?), and
   on the samples with grain added.
"""

import pathlib

import jax.numpy as jnp
import numpy as np
import scipy.ndimage
from absl import app, flags
from PIL import Image, ImageDraw

from experiments import recognisability_controls
from gan.data import procedural_shapes
from gan.evaluation import protocol, recognisability
from gan.training import restore

FLAGS = flags.FLAGS
AREA_EDGES = (0, 80, 150, 300, 600, 4096)  # foreground pixels of a 64x64 picture
D_BATCH = 32


def blended(outline_a, outline_b, weight: float) -> procedural_shapes.Outline:
    """A shape between two: the weighted mean of their signed distances (a morph)."""
    return lambda px, py, s: (1 - weight) * outline_a(px, py, s) + weight * outline_b(px, py, s)


def blended_test_images(num: int, weight: float) -> np.ndarray:
    """The first `num` test images redrawn (same factors and nuisances) with their shape
    blended by `weight` with another shape, each other shape in turn."""
    images = []
    for index in range(num):
        rng = procedural_shapes.example_rng("test", index)
        factors = procedural_shapes.sample_factors(rng)
        other = (factors.shape + 1 + index % 7) % len(procedural_shapes.SHAPES)
        outline_a, outline_b = (
            procedural_shapes.OUTLINES[procedural_shapes.SHAPES[k]] for k in (factors.shape, other)
        )
        images.append(procedural_shapes.render(factors, rng, blended(outline_a, outline_b, weight)))
    return np.stack(images)


def shapes_held(counts: np.ndarray) -> str:
    """The shapes of per-shape `counts` that make up at least 5% of them, most first, each
    with its share ("circle 72%, hexagon 28%"); "-" when none."""
    total = counts.sum()
    held = [k for k in np.argsort(-counts) if counts[k] and counts[k] >= 0.05 * total]
    return ", ".join(f"{procedural_shapes.SHAPES[k]} {counts[k] / total:.0%}" for k in held) or "-"


def by_size_and_shape(name: str, pictures: np.ndarray) -> None:
    fits = recognisability.shape_fits(pictures)
    best, shape = fits.max(1), fits.argmax(1)
    passed = best >= recognisability.THRESHOLD
    areas = np.array([recognisability.foreground(p).sum() for p in pictures])
    print(f"\n{name}: {passed.mean():.1%} recognisable of {len(pictures):,}")
    print("| object area (px) | pictures | recognisable | median best fit |")
    print("|---|---|---|---|")
    for low, high in zip(AREA_EDGES[:-1], AREA_EDGES[1:], strict=True):
        where = (areas >= low) & (areas < high)
        if where.any():
            print(
                f"| {low}-{high} | {where.sum()} | {passed[where].mean():.1%} | "
                f"{np.median(best[where]):.3f} |"
            )
    print("| best outline | pictures | recognisable |")
    print("|---|---|---|")
    for k, outline in enumerate(recognisability.SHAPES):
        where = shape == k
        share = f"{passed[where].mean():.1%}" if where.any() else "-"
        print(f"| {outline} | {where.sum()} | {share} |")


def draw_fits(samples: np.ndarray, path: pathlib.Path, failed: int = 12, passed: int = 4) -> None:
    """The first `failed` unrecognisable and `passed` recognisable samples, each beside the
    foreground the measure finds and the outline it fits best, captioned with its score."""
    fits = recognisability.shape_fits(samples)
    recognised = fits.max(1) >= recognisability.THRESHOLD
    chosen = list(np.flatnonzero(~recognised)[:failed]) + list(np.flatnonzero(recognised)[:passed])
    tile, caption, per_row = 64, 12, 4
    width, height = 3 * tile + 6, tile + caption + 4
    rows = -(-len(chosen) // per_row)
    picture = Image.new("RGB", (per_row * width, rows * height), "white")
    pen = ImageDraw.Draw(picture)
    for n, index in enumerate(chosen):
        left, top = (n % per_row) * width, (n // per_row) * height
        fraction = recognisability.foreground(samples[index])
        best, score = int(fits[index].argmax()), float(fits[index].max())
        template = recognisability.placed_outline(fraction, best)
        grey = [(np.clip(x, 0, 1) * 255).astype(np.uint8) for x in (fraction, template)]
        for k, tile_image in enumerate([samples[index], *grey]):
            picture.paste(Image.fromarray(tile_image), (left + k * tile, top))
        colour = "black" if score >= recognisability.THRESHOLD else "red"
        pen.text((left + 2, top + tile), f"{recognisability.SHAPES[best]} {score:.2f}", fill=colour)
    picture = picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)


def discriminator_verdicts(state, pictures: dict[str, np.ndarray]) -> None:
    variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    packing = getattr(state.discriminator, "packing", 1)
    inputs = f", in packs of {packing} (one logit per pack)" if packing > 1 else ""
    print(f"\nD in training mode, batches of 32{inputs}, beside the recognisability measure:")
    print("| images | mean logit | classified real | recognisable |")
    print("|---|---|---|---|")
    for name, images in pictures.items():
        logits = []
        for start in range(0, len(images) - D_BATCH + 1, D_BATCH):
            batch = jnp.asarray(images[start : start + D_BATCH], jnp.float32) / 127.5 - 1.0
            out, _ = state.discriminator.apply(
                variables, batch, train=True, mutable=["batch_stats"]
            )
            logits.append(np.asarray(out).reshape(-1))
        logits = np.concatenate(logits)
        recognised = recognisability.summarise(recognisability.shape_fits(images))
        print(
            f"| {name} | {logits.mean():.2f} | {(logits > 0).mean():.1%} | "
            f"{recognised['recognisable']:.1%} |"
        )


def main(argv):
    del argv
    state = restore.restore_for_sampling(pathlib.Path(FLAGS.run), FLAGS.step)
    config = restore.load_run_config(pathlib.Path(FLAGS.run))
    if config.num_classes:
        raise app.UsageError("failure_analysis takes a run whose D sees no classes.")
    n = FLAGS.num_samples
    samples = np.concatenate(list(protocol.generated_batches(state, n, seed=0)))
    test, _ = protocol.real_examples(config, "test", n)
    train_images, _ = protocol.real_examples(config, "train", n)
    print(f"{FLAGS.run} at step {FLAGS.step:,}; {n:,} samples (noise seed 0) and real images")
    by_size_and_shape("real test images", test)
    by_size_and_shape("samples", samples)
    if FLAGS.figure:
        draw_fits(samples, pathlib.Path(FLAGS.figure))

    rng = np.random.default_rng(0)

    def grain(images):
        noise = rng.normal(0.0, procedural_shapes.GRAIN, images.shape)
        return np.clip(images.astype(np.float32) + noise, 0, 255)

    def per_image(fn, images):
        return np.stack([fn(image.astype(np.float32)) for image in images])

    def blurred(px):
        return grain(per_image(lambda x: scipy.ndimage.gaussian_filter(x, (px, px, 0)), test))

    median = per_image(lambda x: scipy.ndimage.median_filter(x, size=(3, 3, 1)), test)
    discriminator_verdicts(
        state,
        {
            "training images": train_images,
            "test images": test,
            "test images, grain removed (3x3 median)": median,
            "test images, grain removed and redrawn": grain(median),
            "test images blurred 0.5 px, grain redrawn": blurred(0.5),
            "test images blurred 1.0 px, grain redrawn": blurred(1.0),
            "test images blurred 1.5 px, grain redrawn": blurred(1.5),
            "test images, shape replaced by an ellipse of its area (no circles, hexagons)": (
                recognisability_controls.controls("ellipse", n)[0]
            ),
            "test images, shape blended 25% with another": blended_test_images(n, 0.25),
            "test images, shape blended 50% with another": blended_test_images(n, 0.5),
            "samples": samples,
            "samples with grain added": grain(samples),
        },
    )


if __name__ == "__main__":
    flags.DEFINE_string("run", None, "Workdir of an unconditional run.", required=True)
    flags.DEFINE_integer("step", None, "Checkpointed step to analyse.", required=True)
    flags.DEFINE_integer("num_samples", 1000, "Samples, and real images of each split.")
    flags.DEFINE_string("figure", None, "PNG of failed and passed samples with their fits.")
    app.run(main)
