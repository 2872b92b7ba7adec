"""Generates images from a trained run's checkpoint.

    python -m gan.sample --workdir=runs/dcgan --num_samples=64 --out=samples.png
    python -m gan.sample --workdir=runs/dcgan --num_samples=10000 --out=samples.npz --seed=1
    python -m gan.sample --workdir=runs/dcgan --num_samples=64 --out=walk.png --interpolate

A `.png` output is one grid picture; a `.npz` output holds `images`, uint8 (N, H, W, C), for
metrics. The noise is a pure function of `--seed`, so the same checkpoint and seed always give
the same images. A class-conditional run draws the classes in turn (one per column of an 8-wide
grid of 8 classes; one per row of an --interpolate walk), or only class `--label`; classes found
from the images are drawn as often as they hold training images (`sampling.drawn_labels`).
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from gan import images
from gan.cli import entry_point
from gan.errors import UserError
from gan.models import sampling
from gan.training import train
from gan.training.restore import load_run_config, restore_for_sampling  # noqa: F401  sample.X callers

INTERPOLATION_STEPS = 8  # images per row of an --interpolate walk
GENERATION_BATCH = 256  # images per generator call, to bound memory for large N

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags, defined only when run as one: other code imports the helpers here."""
    flags.DEFINE_string("workdir", None, "Workdir of a training run (holds config.json).")
    flags.DEFINE_integer("num_samples", 64, "Number of images to generate.")
    flags.DEFINE_string("out", None, "Output file: .png (a grid) or .npz (uint8 array 'images').")
    flags.DEFINE_integer("step", None, "Checkpoint step to load; the latest by default.")
    flags.DEFINE_bool("best", False, "Load the best checkpoint kept by evaluation in training.")
    flags.DEFINE_integer("seed", 0, "Seed of the noise vectors.")
    flags.DEFINE_bool("interpolate", False, "Rows of spherical interpolations between noise pairs.")
    flags.DEFINE_integer("label", None, "Class of every image (class-conditional runs only).")
    flags.mark_flags_as_required(["workdir", "out"])


def slerp(start: jax.Array, end: jax.Array, fractions: jax.Array) -> jax.Array:
    """Spherical interpolation between noise vectors, which stays where Gaussian noise lives.

    Args:
      start, end: (N, D) endpoints.
      fractions: (S,) positions in [0, 1].

    Returns:
      (N, S, D) vectors.
    """
    unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    omega = jnp.arccos(jnp.clip(jnp.sum(unit(start) * unit(end), -1), -1.0, 1.0))[:, None, None]
    t = fractions[None, :, None]
    sin_omega = jnp.maximum(jnp.sin(omega), 1e-7)
    return (
        jnp.sin((1 - t) * omega) * start[:, None] + jnp.sin(t * omega) * end[:, None]
    ) / sin_omega


def sample_noise(seed: int, num_samples: int, latent_dim: int, interpolate: bool) -> jax.Array:
    """Noise for `num_samples` images; for interpolation, rows walking between two vectors."""
    if not interpolate:
        return sampling.latent_noise(seed, num_samples, latent_dim)
    if num_samples % INTERPOLATION_STEPS:
        raise UserError(
            f"--interpolate lays images out in rows of {INTERPOLATION_STEPS}, so --num_samples "
            f"must be a multiple of {INTERPOLATION_STEPS} (got {num_samples})."
        )
    rows = num_samples // INTERPOLATION_STEPS
    endpoints = sampling.latent_noise(seed, 2 * rows, latent_dim)
    walk = slerp(endpoints[:rows], endpoints[rows:], jnp.linspace(0.0, 1.0, INTERPOLATION_STEPS))
    return walk.reshape(num_samples, latent_dim)


def sample_labels(
    state, num_samples: int, label: int | None, interpolate: bool
) -> jax.Array | None:
    """Classes of the images: all `label`, or cycling per row of a walk (so that a walk changes
    the noise only), or else as `sampling.drawn_labels` draws them; None for a generator of z
    alone."""
    num_classes = sampling.generator_classes(state)
    if not num_classes:
        if label is not None:
            raise UserError("--label needs a class-conditional run (num_classes > 0).")
        return None
    if label is not None:
        if not 0 <= label < num_classes:
            raise UserError(f"--label={label}: the run has classes 0 to {num_classes - 1}.")
        return jnp.full((num_samples,), label)
    if interpolate:
        rows = sampling.cycled_labels(num_samples // INTERPOLATION_STEPS, num_classes)
        return jnp.repeat(rows, INTERPOLATION_STEPS)
    return sampling.drawn_labels(state, num_samples)


def generate_uint8(state: train.TrainState, z: jax.Array, labels=None) -> np.ndarray:
    """Generator output for every z (of class `labels[i]` if conditional), as one uint8 array."""
    return np.concatenate(list(sampling.generate_batches(state, z, labels, GENERATION_BATCH)))


def write_samples(pictures: np.ndarray, out: pathlib.Path, columns: int | None) -> None:
    """Writes a PNG grid or an `.npz` array, by the extension of `out`."""
    if out.suffix == ".png":
        images.save_png(images.make_grid(pictures, columns=columns), out)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, images=pictures)


@entry_point
def main(argv):
    workdir, out = pathlib.Path(FLAGS.workdir), pathlib.Path(FLAGS.out)
    if out.suffix not in (".png", ".npz"):
        raise UserError(f"Unsupported --out {str(out)!r}: use a .png (grid) or .npz (array) file.")
    state = restore_for_sampling(workdir, FLAGS.step, FLAGS.best)
    z = sample_noise(FLAGS.seed, FLAGS.num_samples, state.generator.latent_dim, FLAGS.interpolate)
    labels = sample_labels(state, FLAGS.num_samples, FLAGS.label, FLAGS.interpolate)
    columns = INTERPOLATION_STEPS if FLAGS.interpolate else None
    write_samples(generate_uint8(state, z, labels), out, columns)
    print(f"Wrote {FLAGS.num_samples} samples from step {int(state.step)} to {FLAGS.out}")


def run() -> None:
    """The `gan-sample` console script."""
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
