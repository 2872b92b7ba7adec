"""Scores finished runs on the embedded data beside real images, as one markdown table.

    python -m gan.train_shapes_evaluator   # once: the evaluator that FID and coverage use
    python -m experiments.score_runs --runs=runs/dcgan,runs/dcgan_paper --num_samples=1000

Per run (its latest checkpoint, or --step): the recognisable share of `num_samples` samples and
its smallest per-shape share, FID in the `procedural_shapes` evaluator's feature space against
the first `num_samples` training images, and factor coverage. The first row is the real-vs-real
control: the first `num_samples` test images scored the same way (FID's floor at this sample
count, the coverage of as many real images, and recognisability on real images).
"""

import pathlib

import jax
from absl import app, flags

from gan import parallel
from gan.evaluation import metrics, protocol, recognisability, shapes_evaluator
from gan.training import restore

FLAGS = flags.FLAGS
NAMES = ("recognisable", "fid", "coverage")


def real_vs_real(config, extractor, num_samples: int) -> dict:
    """Test images scored like samples against the training reference."""
    mesh = parallel.create_mesh()
    train_side = protocol.reference_outputs(config, extractor, "train", num_samples, mesh)
    test_side = protocol.reference_outputs(config, extractor, "test", num_samples, mesh)
    pictures, _ = protocol.real_examples(config, "test", num_samples)
    sizes = tuple(shapes_evaluator.FACTOR_SIZES.values())
    return {
        "fid": metrics.frechet_distance(
            test_side["mu"], test_side["sigma"], train_side["mu"], train_side["sigma"]
        ),
        "coverage": metrics.factor_coverage(shapes_evaluator.predict_factors(test_side), sizes),
        **recognisability.summarise(recognisability.shape_fits(pictures)),
    }


def row(name: str, step: str, scores: dict) -> str:
    shares = [scores[f"recognisable_{shape}"] for shape in recognisability.SHAPES]
    return (
        f"| {name} | {step} | {scores['recognisable']:.3f} | {min(shares):.3f} | "
        f"{scores['fid']:.2f} | {scores['coverage']:.3f} |"
    )


def main(argv):
    del argv
    workdirs = [pathlib.Path(run) for run in FLAGS.runs]
    config = restore.load_run_config(workdirs[0])
    extractor = protocol.create_extractor("shapes", config)
    print(
        f"{FLAGS.num_samples:,} samples per run; FID and coverage in the procedural_shapes "
        f"evaluator's feature space (weights {extractor.weights_hash}); recognisable: soft IoU "
        f">= {recognisability.THRESHOLD}."
    )
    print("| run | step | recognisable | smallest shape share | FID | coverage |")
    print("|---|---|---|---|---|---|")
    print(row("real test images", "-", real_vs_real(config, extractor, FLAGS.num_samples)))
    for workdir in workdirs:
        state = restore.restore_for_sampling(workdir, FLAGS.step)
        config = restore.load_run_config(workdir)
        scores = protocol.evaluate(state, config, NAMES, FLAGS.num_samples, extractor)
        print(row(str(workdir), str(int(jax.device_get(state.step))), scores), flush=True)


if __name__ == "__main__":
    flags.DEFINE_list("runs", None, "Workdirs of runs on procedural_shapes.")
    flags.DEFINE_integer("num_samples", 1_000, "Samples per run, and real images.")
    flags.DEFINE_integer("step", None, "Checkpoint step of every run; the latest by default.")
    flags.mark_flags_as_required(["runs"])
    app.run(main)
