"""What does a generator's latent code or class decide? The shapes and colours drawn for each code.

    python -m experiments.code_usage --run=runs/dcgan --step=24000 --num_samples=1000

A generator with a categorical latent code (`latent_codes`) is never told what a code should
mean; the adversarial game (and InfoGAN's term, `latent_code_weight`) decides it. If the codes
keep the shapes apart, each code's samples show one shape (or few) whatever their colour. For
`num_samples` samples (noise seed 0, the codes in turn) this prints, per code, the share of
each best-fitting outline (`gan.evaluation.recognisability`) among its samples and the share
recognisable, and the normalised mutual information of the code with the outline, with the
object's colour (nearest palette colour of the foreground) and with each factor the shape
evaluator reads: 1 when the code decides that factor, 0 when it is independent of it. A
self-conditioned run's codes are D's clusters of real images: for it this also prints the NMI
of the clusters D assigns `--num_real` test images to with each of their true factors, which
says what the clusters hold.
"""

import pathlib

import numpy as np
from absl import app, flags

from experiments.d_feature_clusters import (
    discriminator_intermediates,
    normalised_mutual_information,
    shapes_evaluator_outputs,
)
from gan.data import procedural_shapes
from gan.evaluation import protocol, recognisability, shapes_evaluator
from gan.models import sampling
from gan.training import restore

FLAGS = flags.FLAGS
PALETTE = np.asarray(list(procedural_shapes.PALETTE.values()), np.float32)


def object_colour(picture: np.ndarray) -> int:
    """Index of the palette colour nearest the mean colour of the picture's object."""
    fraction = recognisability.foreground(picture)
    inside = fraction > 0.6
    if not inside.any():
        return -1
    colour = picture[inside].astype(np.float32).mean(0)
    return int(((PALETTE - colour) ** 2).sum(1).argmin())


def main(argv):
    del argv
    state = restore.restore_for_sampling(pathlib.Path(FLAGS.run), FLAGS.step)
    codes = sampling.generator_classes(state)
    if not codes:
        raise app.UsageError("code_usage takes a run with latent_codes > 0.")
    pictures = np.concatenate(list(protocol.generated_batches(state, FLAGS.num_samples, seed=0)))
    labels = protocol.generated_labels(state, FLAGS.num_samples)
    fits = recognisability.shape_fits(pictures)
    outline, passed = fits.argmax(1), fits.max(1) >= recognisability.THRESHOLD
    colours = np.array([object_colour(p) for p in pictures])
    names = recognisability.SHAPES
    print(f"{FLAGS.run}: {len(pictures)} samples, {codes} codes, {passed.mean():.1%} recognisable")
    print("| code | recognisable | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for code in range(codes):
        mine = labels == code
        shares = np.bincount(outline[mine], minlength=len(names)) / mine.sum()
        cells = " | ".join(f"{share:.0%}" for share in shares)
        print(f"| {code} | {passed[mine].mean():.0%} | {cells} |")
    print(f"\nNMI(code, best outline) = {normalised_mutual_information(labels, outline):.3f}")
    print(f"NMI(code, colour) = {normalised_mutual_information(labels, colours):.3f}")
    config = restore.load_run_config(pathlib.Path(FLAGS.run))
    read = shapes_evaluator.predict_factors(shapes_evaluator_outputs(config, state, pictures))
    scores = ", ".join(
        f"{name} {normalised_mutual_information(labels, read[:, i]):.3f}"
        for i, name in enumerate(shapes_evaluator.FACTOR_SIZES)
    )
    print(f"NMI(code, factor the shape evaluator reads): {scores}")
    if getattr(state.discriminator, "self_conditioning", False):
        images, factors = shapes_evaluator.load_labelled(
            config.dataset, str(protocol.data_dir_of(config)), f"test[:{FLAGS.num_real}]"
        )
        clusters = real_clusters(state, images)
        scores = ", ".join(
            f"{name} {normalised_mutual_information(clusters, factors[:, i]):.3f}"
            for i, name in enumerate(shapes_evaluator.FACTOR_SIZES)
        )
        print(f"NMI(D's cluster of real test images, true factor): {scores}")


def real_clusters(state, images: np.ndarray) -> np.ndarray:
    """The cluster a self-conditioned D assigns each uint8 image to (evaluation mode)."""
    return np.concatenate(
        [np.asarray(sown["cluster"]) for sown in discriminator_intermediates(state, images)]
    )


if __name__ == "__main__":
    flags.DEFINE_string("run", None, "Workdir of a run with a latent code.", required=True)
    flags.DEFINE_integer("step", None, "Checkpoint step; the latest by default.")
    flags.DEFINE_integer("num_samples", 1_000, "Samples, the codes in turn.")
    flags.DEFINE_integer("num_real", 2_000, "Test images clustered (self-conditioned runs).")
    app.run(main)
