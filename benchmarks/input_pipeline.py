"""Times the input pipeline alone beside the train step it feeds, in images/s, in one run.

    python -m benchmarks.input_pipeline --config=configs/dcgan.py

What is measured: first the jitted train step, exactly as `benchmarks.train_step` times it
(compilation apart, `--train_repeats` x `--train_steps` after warm-up, median kept), giving the
images/s training consumes. Then `gan.data.pipeline` on two sources, each down both of its paths:
the config's dataset (the embedded `procedural_shapes` by default, in `--config.data_dir`) and a
folder of `--folder_images` 64x64 PNGs this script renders into a temporary directory and reads
as `folder:DIR`. `decoded` keeps the config's `cache_max_gb`, so `pipeline.prepare` decodes every
image into memory once (a first run); `mapped` (tfds sources only) is a later run, which maps the
decoded images that the first one wrote beside the tfds data; `streamed` sets `cache_max_gb` to
0, so every batch is read and decoded by tf.data.
Each row reports `pipeline.prepare` (the one-time cost: folder scan and decodability check, plus
the decode into memory when cached) apart from the steady state: the images/s of
`pipeline.train_batches` over `--batches` batches after a few untimed ones, epoch boundaries
included. Every source is opened once untimed before its rows, so a first-time tfds generation
and a cold disk cache are not counted. Rows and training are per process and run one after the
other, each with the whole machine.

Why ratios: absolute images/s on a shared machine drift between runs, while the ratio of two
figures measured in one sitting holds. On CPU the pipeline and the step share the cores during
training, so the pipeline alone must deliver at least 5x what the step consumes to cost the step
little. The script ends with `train_img_per_s=... min_pipeline_img_per_s=... ratio=...` (the
slowest row). A GPU step consumes far more: `--gpu_img_per_s` (measured with
`benchmarks.train_step` on a GPU) adds a line saying how far the slowest row is from it.
"""

import copy
import dataclasses
import itertools
import os
import pathlib
import tempfile
import time

import jax
import PIL.Image
from absl import app, flags
from ml_collections import config_flags

from benchmarks import timing
from gan.cli import entry_point, parse_flags
from gan.data import pipeline, procedural_shapes, sources
from gan.errors import UserError
from gan.training import validation

config_flags.DEFINE_config_file(
    "config", "configs/dcgan.py", "Config file: dataset, batch, model.", lock_config=True
)
FOLDER_IMAGES = flags.DEFINE_integer(
    "folder_images", 5_000, "64x64 PNGs written for the image-folder source.", lower_bound=1
)
BATCHES = flags.DEFINE_integer("batches", 200, "Timed batches per pipeline row.", lower_bound=1)
TRAIN_STEPS = flags.DEFINE_integer("train_steps", 5, "Timed train steps per repeat.", lower_bound=1)
TRAIN_REPEATS = flags.DEFINE_integer(
    "train_repeats", 3, "Timed repeats of the train step; the median is kept.", lower_bound=1
)
GPU_IMG_PER_S = flags.DEFINE_float(
    "gpu_img_per_s",
    0.0,
    "Images/s a GPU train step consumes (benchmarks.train_step on a GPU); 0 omits the GPU line.",
    lower_bound=0.0,
)

# Untimed batches before each row's clock starts: tf.data fills its shuffle buffer and queues.
WARMUP_BATCHES = 5
# Untimed train steps after compilation, as `benchmarks.train_step --warmup` by default.
TRAIN_WARMUP_STEPS = 2
# On CPU the pipeline runs on the cores the step uses, so it must be this much faster alone.
REQUIRED_RATIO = 5.0


@dataclasses.dataclass(frozen=True)
class Row:
    """One pipeline measurement.

    Attributes:
      source: the dataset's name and size, for the table.
      path: `decoded` (into memory by `prepare`), `mapped` (the decoded images a previous
        run wrote to disk) or `streamed` (decoded per batch).
      prepare_s: seconds of `pipeline.prepare`.
      img_per_s: steady-state images/s of `pipeline.train_batches`.
    """

    source: str
    path: str
    prepare_s: float
    img_per_s: float


def write_png_folder(root: pathlib.Path, num_images: int) -> None:
    """Renders the first `num_images` procedural_shapes train images into `root` as PNGs."""
    for index in range(num_images):
        image, _ = procedural_shapes.make_example("train", index)
        PIL.Image.fromarray(image).save(root / f"{index:06d}.png")


def delivered_img_per_s(data: pipeline.TrainingData, config, num_batches: int) -> float:
    """Images/s `pipeline.train_batches` yields over `num_batches`, after warm-up batches."""
    batches = pipeline.train_batches(data, config)
    try:
        for _ in itertools.islice(batches, WARMUP_BATCHES):
            pass
        start = time.perf_counter()
        images = sum(len(batch["image"]) for batch in itertools.islice(batches, num_batches))
        return images / (time.perf_counter() - start)
    finally:
        batches.close()  # stops a streamed epoch's tf.data threads before the next row runs


def time_path(config, label: str, path: str) -> Row:
    """Times `prepare`, then the steady state, of one source down one path.

    Args:
      config: the config, its `dataset` set to the source.
      label: the source's name in the table.
      path: `decoded` removes the decoded-image file first, `mapped` keeps it (both keep
        `config.cache_max_gb`); `streamed` sets it to 0.

    Returns:
      The row.

    Raises:
      UserError: the source does not fit in `config.cache_max_gb` for the cached path.
    """
    config = copy.deepcopy(config)
    if path == "streamed":
        config.cache_max_gb = 0.0
    decoded_file = pipeline.decoded_cache_path(sources.load_source(config), config)
    if path == "decoded" and decoded_file is not None:
        decoded_file.unlink(missing_ok=True)
    start = time.perf_counter()
    data = pipeline.prepare(config)
    prepare_s = time.perf_counter() - start
    if path != "streamed" and data.cached is None:
        raise UserError(
            f"{config.dataset!r} does not fit in cache_max_gb={config.cache_max_gb} GiB, so its "
            "cached path cannot be timed. Raise --config.cache_max_gb."
        )
    return Row(label, path, prepare_s, delivered_img_per_s(data, config, BATCHES.value))


def time_source(config, dataset: str, label: str, train_img_per_s: float) -> list[Row]:
    """Opens `dataset` once untimed, then times and prints its rows: decoded, mapped (where
    the source keeps its decoded images) and streamed."""
    config = copy.deepcopy(config)
    config.dataset = dataset
    # Generates the embedded dataset if needed and warms the disk cache, so neither is timed.
    source = sources.load_source(config)
    num_examples = source.num_examples
    paths = ("decoded", "mapped", "streamed") if source.decoded_cache else ("decoded", "streamed")
    rows = []
    for path in paths:
        rows.append(time_path(config, f"{label} ({num_examples:,})", path))
        print_row(rows[-1], train_img_per_s)
    return rows


def time_training(config) -> float:
    """Prints the train step's compile and step time; returns the images/s it consumes."""
    compile_s, step_s = timing.time_jax(
        config, warmup=TRAIN_WARMUP_STEPS, steps=TRAIN_STEPS.value, repeats=TRAIN_REPEATS.value
    )
    # Per process, like the pipeline rows: each process feeds its own share of the batch.
    img_per_s = pipeline.local_batch_size(config) / step_s
    print(
        f"train step: backend={jax.default_backend()}, {jax.device_count()} device(s), "
        f"{os.cpu_count()} CPU cores; compile {compile_s:.2f} s, median step {step_s:.4f} s "
        f"({TRAIN_REPEATS.value} x {TRAIN_STEPS.value} after {TRAIN_WARMUP_STEPS} warm-up), "
        f"{img_per_s:.1f} img/s"
    )
    return img_per_s


def print_row(row: Row, train_img_per_s: float) -> None:
    """Prints one table row; rows below the required ratio are marked."""
    ratio = row.img_per_s / train_img_per_s
    mark = f"  < {REQUIRED_RATIO:g}x" if ratio < REQUIRED_RATIO else ""
    print(
        f"{row.source:<32} {row.path:<9} {row.prepare_s:>10.2f} {row.img_per_s:>10.1f} "
        f"{ratio:>11.1f}{mark}"
    )


@entry_point
def main(argv):
    config = flags.FLAGS.config
    validation.validate_config(config)
    if FOLDER_IMAGES.value < pipeline.local_batch_size(config):
        raise UserError(
            f"--folder_images={FOLDER_IMAGES.value} is less than one batch of "
            f"{pipeline.local_batch_size(config)}: raise it or lower --config.batch_size."
        )
    print(
        f"config: dataset={config.dataset} image_size={config.image_size} "
        f"channels={config.num_channels} batch={config.batch_size}; {BATCHES.value} timed "
        f"batches after {WARMUP_BATCHES} warm-up per row"
    )
    train_img_per_s = time_training(config)
    print(f"{'source':<32} {'path':<9} {'prepare s':>10} {'img/s':>10} {'x training':>11}")
    rows = time_source(config, config.dataset, config.dataset, train_img_per_s)
    with tempfile.TemporaryDirectory(prefix="input_pipeline_") as folder:
        write_png_folder(pathlib.Path(folder), FOLDER_IMAGES.value)
        rows += time_source(config, sources.FOLDER_PREFIX + folder, "folder", train_img_per_s)
    slowest = min(row.img_per_s for row in rows)
    if GPU_IMG_PER_S.value:
        gpu = GPU_IMG_PER_S.value
        print(
            f"gpu: a step consuming {gpu:.0f} img/s needs >= {gpu:.0f} img/s from the pipeline "
            f"({REQUIRED_RATIO * gpu:.0f} with the {REQUIRED_RATIO:g}x margin asked on CPU); the "
            f"slowest row delivers {slowest:.0f} img/s, {slowest / gpu:.2f}x the GPU step"
        )
    print(
        f"train_img_per_s={train_img_per_s:.1f} min_pipeline_img_per_s={slowest:.1f} "
        f"ratio={slowest / train_img_per_s:.2f}"
    )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
