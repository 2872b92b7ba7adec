"""Scores a checkpoint of a training run: one JSON line on stdout and in the workdir.

    python -m gan.evaluate --workdir=runs/dcgan
    python -m gan.evaluate --workdir=runs/dcgan --step=1000 --metrics=recognisable,fid,coverage
    python -m gan.evaluate --workdir=runs/celeba --metrics=fid,kid,is --extractor=inception

The line holds the step, every metric value and the protocol they were computed with; it is
also appended to WORKDIR/eval.jsonl, one line per evaluation. On the embedded dataset the
default extractor is its own evaluator (offline; train it once with
`python -m gan.train_shapes_evaluator`), elsewhere the FID Inception network.
"""

import pathlib

from absl import app, flags

from gan.cli import entry_point
from gan.evaluation import protocol
from gan.training import restore

flags.DEFINE_string("workdir", None, "Workdir of a training run (holds config.json).")
flags.DEFINE_integer("step", None, "Checkpoint step to score; the latest by default.")
flags.DEFINE_bool("best", False, "Score the best checkpoint kept by evaluation during training.")
flags.DEFINE_list("metrics", ["fid", "kid", "pr"], f"Any of {', '.join(protocol.METRICS)}.")
flags.DEFINE_integer("num_samples", 10_000, "Generated images, and real reference images.")
flags.DEFINE_enum("extractor", None, protocol.EXTRACTORS, "Feature network; see above.")
flags.DEFINE_string("split", "train", "Reference split of the run's dataset.")
flags.DEFINE_string("inception_weights", None, "pytorch-fid's Inception weights file.")
flags.DEFINE_integer("seed", 0, "Seed of the generated images' noise.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


@entry_point
def main(argv):
    workdir = pathlib.Path(FLAGS.workdir)
    config = restore.load_run_config(workdir)
    extractor_name = FLAGS.extractor or protocol.default_extractor(config.dataset)
    protocol.check_request(tuple(FLAGS.metrics), extractor_name, FLAGS.num_samples, config)
    state = restore.restore_for_sampling(workdir, FLAGS.step, FLAGS.best)
    extractor = None
    if protocol.needs_features(tuple(FLAGS.metrics)):
        extractor = protocol.create_extractor(extractor_name, config, FLAGS.inception_weights)
    result = protocol.evaluate(
        state, config, tuple(FLAGS.metrics), FLAGS.num_samples, extractor, FLAGS.split, FLAGS.seed
    )
    print(protocol.append_result(workdir, result))


def run() -> None:
    """The `gan-evaluate` console script."""
    app.run(main)


if __name__ == "__main__":
    run()
