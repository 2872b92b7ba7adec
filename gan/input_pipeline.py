"""tf.data input pipeline: tfds records -> decode -> crop/resize -> [0, 1] floats -> batches.

Every dataset, the embedded `procedural_shapes` included, is a tfds builder, so all go through
one code path. Order is a pure function of (seed, epoch, process): a run resumed at step k
reads exactly the batches an uninterrupted run reads from step k on. Skipping happens on the
still-encoded records, so resuming deep into an epoch costs reads, not decodes.
"""

import dataclasses
import difflib
import itertools
from collections.abc import Iterator

import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import gan.procedural_shapes  # noqa: F401  (registers the embedded dataset with tfds)
from gan.errors import UserError

EMBEDDED_DATASET = "procedural_shapes"
IMAGE_KEY = "image"


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A prepared tfds dataset split, and how much of it this process reads.

    Attributes:
      builder: the tfds builder, prepared on disk.
      split: this process's part of the training split (disjoint across processes).
      num_examples: number of examples in `split`.
    """

    builder: tfds.core.DatasetBuilder
    split: str
    num_examples: int


def load_source(config) -> DataSource:
    """Finds `config.dataset` in `config.data_dir`, preparing it if needed.

    The embedded dataset is generated locally; any other tfds dataset is downloaded by tfds.

    Raises:
      UserError: the name is unknown, or the dataset is absent and cannot be downloaded.
    """
    builder = _builder(config.dataset, config.data_dir)
    if not builder.is_prepared():
        _prepare(builder, config.dataset)
    split = tfds.split_for_jax_process("train")
    num_examples = builder.info.splits[split].num_examples
    return DataSource(builder=builder, split=split, num_examples=num_examples)


def _builder(name: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = name.split("/")[0].split(":")[0]
        close = difflib.get_close_matches(base, tfds.list_builders(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(
            f"Unknown dataset {name!r}: it is neither the embedded {EMBEDDED_DATASET!r} nor a "
            f"tensorflow-datasets name.{hint} Set --config.dataset to one of the names listed "
            "at https://www.tensorflow.org/datasets/catalog."
        ) from None


def _prepare(builder: tfds.core.DatasetBuilder, name: str) -> None:
    if builder.name == EMBEDDED_DATASET:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
        return
    try:
        builder.download_and_prepare()
    except Exception as error:  # noqa: BLE001  (network and download errors come in many types)
        raise UserError(
            f"Dataset {name!r} is not in the tfds data dir {builder.data_dir_root} and could not "
            f"be downloaded ({type(error).__name__}: {str(error).splitlines()[0][:200]}). On a "
            f"machine with internet run `tfds build {name} --data_dir=DIR` (or this same command), "
            f"copy DIR here and pass --config.data_dir=DIR; or train on the embedded "
            f"{EMBEDDED_DATASET!r} dataset, which needs no download."
        ) from None


def steps_per_epoch(source: DataSource, config) -> int:
    """Full local batches per pass over this process's data (the remainder is dropped)."""
    return source.num_examples // local_batch_size(config)


def local_batch_size(config) -> int:
    """This process's share of the global batch."""
    return config.batch_size // jax.process_count()


def preprocess(encoded: tf.Tensor, image_size: int, num_channels: int) -> tf.Tensor:
    """Decodes one image, center-crops it square, resizes it and maps uint8 to [0, 1] floats.

    Args:
      encoded: PNG/JPEG/BMP/GIF bytes.
      image_size: side of the square output.
      num_channels: 1 (grayscale) or 3 (RGB); the decoder converts between them.

    Returns:
      float32 (image_size, image_size, num_channels) in [0, 1].
    """
    image = tf.io.decode_image(encoded, channels=num_channels, expand_animations=False)
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(
        image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side
    )
    image = tf.cast(image, tf.float32) / 255.0
    if image.shape[0] != image_size:
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def _epoch_seed(config, epoch: int) -> int:
    return int(
        np.random.SeedSequence([config.seed, epoch, jax.process_index()]).generate_state(1)[0]
    )


def epoch_dataset(source: DataSource, config, epoch: int, skip_batches: int = 0) -> tf.data.Dataset:
    """One shuffled pass over this process's data, as float32 batches, from batch `skip_batches`."""
    seed = _epoch_seed(config, epoch)
    read_config = tfds.ReadConfig(shuffle_seed=seed, interleave_cycle_length=1)
    ds = source.builder.as_dataset(
        split=source.split,
        shuffle_files=True,
        read_config=read_config,
        decoders={IMAGE_KEY: tfds.decode.SkipDecoding()},
    )
    batch = local_batch_size(config)
    ds = ds.map(lambda example: example[IMAGE_KEY])
    ds = ds.shuffle(min(config.shuffle_buffer_size, source.num_examples), seed=seed)
    ds = ds.skip(skip_batches * batch)
    ds = ds.map(
        lambda encoded: preprocess(encoded, config.image_size, config.num_channels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.batch(batch, drop_remainder=True).prefetch(2)


def train_batches(source: DataSource, config, start_step: int = 0) -> Iterator[np.ndarray]:
    """Endless local batches (float32 NHWC in [0, 1]) in training order, from `start_step` on."""
    per_epoch = steps_per_epoch(source, config)
    first_epoch, skip = divmod(start_step, per_epoch)
    for epoch in itertools.count(first_epoch):
        yield from epoch_dataset(source, config, epoch, skip).as_numpy_iterator()
        skip = 0
