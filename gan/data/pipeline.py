"""The input pipeline: decode -> crop/resize -> cache if it fits -> shuffle -> normalize -> batch.

One pipeline for every source (`gan.data.sources`). Images are cropped and resized to uint8 at
`image_size`; when all of them fit in `config.cache_max_gb` they are decoded once and kept in
memory (a tfds dataset's also on disk beside it, for the next run: `load_all`), so every epoch
is an exact permutation at no decoding cost. Larger datasets stream
through tf.data with a shuffle buffer over the still-encoded records. Normalisation to [0, 1]
floats comes last, per batch. A batch is a dict: "image" (float32 NHWC) and, when the source
has classes (class-conditional training), "label" (int32).

The order of batches is a pure function of (seed, epoch, process): a run resumed at step k
reads exactly the batches an uninterrupted run reads from step k on, whichever path is taken.
"""

import dataclasses
import itertools
import os
import pathlib
import re
from collections.abc import Iterator

import jax
import numpy as np
import tensorflow as tf
from absl import logging

from gan.data import sources
from gan.errors import UserError
from gan.models import outline_clusters

SKIPPED_FILES_SHOWN = 10  # unreadable files named in the warning; the rest are counted


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """A source made ready for training.

    Attributes:
      source: where the images come from (this process's share).
      steps_per_epoch: full local batches per pass; the remainder is dropped.
      cached: all images as uint8 (N, S, S, C) when they fit in memory, else None (streamed).
    """

    source: sources.Source
    steps_per_epoch: int
    cached: np.ndarray | None


def local_batch_size(config) -> int:
    """This process's share of the images one train step reads: a global batch for each of the
    `n_critic` discriminator updates."""
    return config.batch_size * config.get("n_critic", 1) // jax.process_count()


def crop_and_resize(image: tf.Tensor, image_size: int, crop_size: int) -> tf.Tensor:
    """Center-crops a uint8 image to a square and resizes it to `image_size` (antialiased).

    Args:
      image: uint8 (H, W, C).
      image_size: side of the output.
      crop_size: side of the centred crop; 0 takes the largest square (min(H, W)).

    Returns:
      uint8 (image_size, image_size, C).
    """
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1]) if crop_size == 0 else crop_size
    image = tf.image.crop_to_bounding_box(
        image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side
    )
    resized = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def normalize(images):
    """uint8 pixels to float32 in [0, 1] (numpy or TensorFlow)."""
    if isinstance(images, np.ndarray):
        return images.astype(np.float32) / np.float32(255.0)
    return tf.cast(images, tf.float32) / 255.0


def _decoded(records: tf.data.Dataset, source: sources.Source, config) -> tf.data.Dataset:
    """Records (or (record, label) pairs) as {"image": uint8 at image_size[, "label"]}."""

    # Plain TensorFlow ops, no Python control flow: AutoGraph has nothing to convert (and would
    # only warn that it cannot read a lambda's source).
    @tf.autograph.experimental.do_not_convert
    def preprocess(record, label=None):
        image = crop_and_resize(source.decode(record), config.image_size, config.crop_size)
        return {"image": image} if label is None else {"image": image, "label": label}

    return records.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)


def load_all(source: sources.Source, config) -> np.ndarray:
    """Every image of `source`, cropped and resized, as one uint8 array.

    Decoding 100,000 PNGs takes about 40 s on 2 cores, at every start. So a tfds source's
    decoded images are written once, beside its prepared data, as a .npy file, and later
    runs map that file into memory instead (a second or less): the same bytes, so the same
    training. A file that cannot be read is decoded again and rewritten; a data directory that
    cannot be written is only warned about.
    """
    path = decoded_cache_path(source, config)
    if path is not None and path.exists():
        try:
            images = np.load(path, mmap_mode="r")
            if images.shape == _shape_of_all(source, config) and images.dtype == np.uint8:
                return images
            reason = f"shape {images.shape}"
        except (OSError, ValueError) as error:
            reason = str(error)
        logging.warning("Decoding the images again: %s cannot be used (%s).", path, reason)
    images = _decode_all(source, config)
    if path is not None:
        _write_atomically(path, images)
    return images


def _shape_of_all(source: sources.Source, config) -> tuple[int, int, int, int]:
    return (source.num_examples, config.image_size, config.image_size, config.num_channels)


def decoded_cache_path(source: sources.Source, config) -> pathlib.Path | None:
    """WORKDIR-independent path of `source`'s decoded images at this size, crop and channels."""
    if source.decoded_cache is None:
        return None
    directory, name = source.decoded_cache
    settings = f"{config.image_size}px-{config.num_channels}ch-crop{config.crop_size}"
    return directory / f"decoded-{re.sub(r'[^A-Za-z0-9.]+', '_', name)}-{settings}.npy"


def _write_atomically(path: pathlib.Path, images: np.ndarray) -> None:
    """Writes `images` to `path` through a temporary file, so a reader sees all or nothing."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as f:
            np.save(f, images)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        logging.warning(
            "Cannot keep the decoded images in %s (%s); the next run decodes them again.",
            path.parent,
            error.strerror or error,
        )


def _decode_all(source: sources.Source, config) -> np.ndarray:
    """Decodes, crops and resizes every image of `source` into one uint8 array."""
    size, channels = config.image_size, config.num_channels
    images = np.empty((source.num_examples, size, size, channels), np.uint8)
    filled = 0
    decoded = _decoded(source.records, source, config).batch(1024).prefetch(2)
    for chunk in decoded.as_numpy_iterator():
        images[filled : filled + len(chunk["image"])] = chunk["image"]
        filled += len(chunk["image"])
    return images


def prepare(config) -> TrainingData:
    """Opens `config.dataset`, reports skipped files, caches it in memory if it fits and, with
    `label_key="outline_clusters"`, finds the classes (`gan.models.outline_clusters`).

    Raises:
      UserError: from the source, a dataset smaller than one batch, or outline clusters asked
        of a streamed dataset.
    """
    source = sources.load_source(config)
    if source.skipped:
        shown = ", ".join(source.skipped[:SKIPPED_FILES_SHOWN])
        logging.warning(
            "Skipped %d of %d image files that cannot be decoded: %s%s",
            len(source.skipped),
            len(source.skipped) + source.num_examples,
            shown,
            " ..." if len(source.skipped) > SKIPPED_FILES_SHOWN else "",
        )
    steps_per_epoch = _agreed_steps_per_epoch(source.num_examples // local_batch_size(config))
    if steps_per_epoch == 0:
        raise UserError(
            f"{source.name!r} has {source.num_examples} images for this process, fewer than one "
            f"batch of {local_batch_size(config)}. Lower --config.batch_size or add images."
        )
    image_bytes = source.num_examples * config.image_size**2 * config.num_channels
    cached = load_all(source, config) if image_bytes <= config.cache_max_gb * 2**30 else None
    if outline_clusters.uses_outline_clusters(config):
        if cached is None:
            raise UserError(
                f"label_key={outline_clusters.LABEL_KEY} finds the classes from all the images "
                f"at once, but {source.name!r} ({image_bytes / 2**30:.1f} GiB at this size) is "
                f"streamed, not held in memory (cache_max_gb={config.cache_max_gb}). Raise "
                "--config.cache_max_gb if the memory allows, or train on the dataset's own labels "
                "(--config.label_key) or without classes (configs/dcgan_unconditional.py)."
            )
        labels = outline_clusters.find(
            cached, config.num_classes, config.seed, config.get("outline_harmonics", 0.0)
        )
        source = dataclasses.replace(source, labels=labels)
    return TrainingData(source=source, steps_per_epoch=steps_per_epoch, cached=cached)


def _agreed_steps_per_epoch(local_steps: int) -> int:
    """The smallest steps per epoch over all processes, so every process agrees on epochs."""
    if jax.process_count() == 1:
        return local_steps
    from jax.experimental import multihost_utils

    return int(np.min(multihost_utils.process_allgather(np.int64(local_steps))))


def _epoch_seed(config, epoch: int) -> int:
    sequence = np.random.SeedSequence([config.seed, epoch, jax.process_index()])
    return int(sequence.generate_state(1)[0])


def _cached_epoch(data: TrainingData, config, epoch: int, skip: int) -> Iterator[dict]:
    batch, labels = local_batch_size(config), data.source.labels
    order = np.random.default_rng(_epoch_seed(config, epoch)).permutation(len(data.cached))
    for index in range(skip, data.steps_per_epoch):
        chosen = order[index * batch : (index + 1) * batch]
        images = {"image": normalize(data.cached[chosen])}
        yield images if labels is None else images | {"label": labels[chosen]}


def _streamed_epoch(data: TrainingData, config, epoch: int, skip: int) -> Iterator[dict]:
    source, batch = data.source, local_batch_size(config)
    records = source.records
    if source.labels is not None:  # paired before shuffling, so each keeps its label
        records = tf.data.Dataset.zip(records, tf.data.Dataset.from_tensor_slices(source.labels))
    records = records.shuffle(
        min(config.shuffle_buffer_size, source.num_examples), seed=_epoch_seed(config, epoch)
    )
    # Skip while still encoded: resuming deep into an epoch costs reads, not decodes.
    records = records.take(data.steps_per_epoch * batch).skip(skip * batch)
    batches = _decoded(records, source, config).batch(batch, drop_remainder=True)
    normalized = batches.map(lambda batch: batch | {"image": normalize(batch["image"])})
    return normalized.prefetch(2).as_numpy_iterator()


def train_batches(data: TrainingData, config, start_step: int = 0) -> Iterator[dict]:
    """Endless local batches in training order, from `start_step` on: dicts of "image" (float32
    NHWC in [0, 1]) and, for a source with classes, "label" (int32)."""
    epoch_batches = _cached_epoch if data.cached is not None else _streamed_epoch
    first_epoch, skip = divmod(start_step, data.steps_per_epoch)
    for epoch in itertools.count(first_epoch):
        yield from epoch_batches(data, config, epoch, skip)
        skip = 0
