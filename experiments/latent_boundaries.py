"""Are a generator's unrecognisable samples drawn between shapes? Its latent space, probed.

    python -m experiments.latent_boundaries --run=runs/dcgan --step=24000 --num_samples=1000

A continuous z cannot map onto eight separate shapes without a region of z where G draws
something between two of them (Tanielian et al. 2020, "Learning disconnected manifolds").
If that is where the failed samples come from, they sit where G changes fastest with z and
where a small step in z changes the shape G draws. For the fixed-noise samples of one
checkpoint this prints:

1. Recognisability by quartile of G's local sensitivity ||G(z + eps u) - G(z)|| / eps (u
   random unit directions, mean over `--directions`).
2. Recognisability of samples whose neighbours at distance `--radius` all keep the sample's
   best outline, against those where some neighbour's best outline is another shape.
3. Recognisability and per-shape shares with z scaled by psi (the truncation trick: psi < 1
   draws from nearer the centre of z's distribution).
"""

import pathlib

import jax
import numpy as np
from absl import app, flags

from gan.evaluation import protocol, recognisability
from gan.models import sampling
from gan.training import restore

FLAGS = flags.FLAGS
EPSILON = 0.05  # the finite difference of the sensitivity, in units of z


def _generate(state, z: np.ndarray) -> np.ndarray:
    return np.concatenate(list(sampling.generate_batches(state, z, None, protocol.BATCH)))


def _directions(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    u = rng.standard_normal(shape).astype(np.float32)
    return u / np.linalg.norm(u, axis=-1, keepdims=True)


def _fits(pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fits = recognisability.shape_fits(pictures)
    return fits.max(1) >= recognisability.THRESHOLD, fits.argmax(1)


def main(argv):
    del argv
    state = restore.restore_for_sampling(pathlib.Path(FLAGS.run), FLAGS.step)
    z = np.asarray(sampling.latent_noise(0, FLAGS.num_samples, state.generator.latent_dim))
    pictures = _generate(state, z)
    passed, shape = _fits(pictures)
    rng = np.random.default_rng(0)
    base = pictures.astype(np.float32) / 255.0

    sensitivity = np.zeros(len(z))
    neighbour_shapes = []
    for _ in range(FLAGS.directions):
        u = _directions(rng, z.shape)
        moved = _generate(state, z + EPSILON * u).astype(np.float32) / 255.0
        sensitivity += np.sqrt(((moved - base) ** 2).sum((1, 2, 3))) / EPSILON / FLAGS.directions
        far = _generate(state, z + FLAGS.radius * _directions(rng, z.shape))
        neighbour_shapes.append(_fits(far)[1])
    print(f"{FLAGS.run}, step {int(jax.device_get(state.step))}: {passed.mean():.1%} recognisable")
    print("\n| sensitivity quartile | median sensitivity | recognisable |")
    print("|---|---|---|")
    quartile = np.digitize(sensitivity, np.quantile(sensitivity, [0.25, 0.5, 0.75]))
    for q in range(4):
        where = quartile == q
        print(f"| {q + 1} | {np.median(sensitivity[where]):.1f} | {passed[where].mean():.1%} |")

    stable = (np.stack(neighbour_shapes) == shape).all(0)
    print(f"\n| neighbours at radius {FLAGS.radius} | samples | recognisable |")
    print("|---|---|---|")
    for name, where in (("all keep the best outline", stable), ("some change it", ~stable)):
        print(f"| {name} | {where.sum()} | {passed[where].mean():.1%} |")

    print("\n| psi | recognisable | " + " | ".join(recognisability.SHAPES) + " |")
    print("|---" * (len(recognisability.SHAPES) + 2) + "|")
    for psi in map(float, FLAGS.psi):
        scores = recognisability.summarise(recognisability.shape_fits(_generate(state, psi * z)))
        shares = " | ".join(f"{scores[f'recognisable_{s}']:.1%}" for s in recognisability.SHAPES)
        print(f"| {psi} | {scores['recognisable']:.1%} | {shares} |")


if __name__ == "__main__":
    flags.DEFINE_string("run", None, "Workdir of a run on procedural_shapes.")
    flags.DEFINE_integer("step", None, "Checkpoint step; the latest by default.")
    flags.DEFINE_integer("num_samples", 1_000, "Fixed-noise samples (seed 0).")
    flags.DEFINE_integer("directions", 4, "Random directions per sample.")
    flags.DEFINE_float("radius", 1.0, "Distance in z of the neighbours whose shape is compared.")
    flags.DEFINE_list("psi", ["1.0", "0.8", "0.6"], "Scales of z for the truncation rows.")
    flags.mark_flags_as_required(["run"])
    app.run(main)
