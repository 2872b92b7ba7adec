"""A dataset as the model will see it: counts, resolutions, pixel statistics, first images.

The library half of `python -m gan.data` (gan/data/__main__.py), importable without its flags.
"""

import itertools

import numpy as np
import tensorflow as tf

from gan.data import pipeline

RESOLUTION_SAMPLE = 256  # source images whose native size is reported
GRID_IMAGES = 64


def source_resolutions(data: pipeline.TrainingData) -> tuple[tuple[int, int], tuple[int, int]]:
    """Smallest and largest (height, width) among the first source images, before cropping."""
    shapes = data.source.records.take(RESOLUTION_SAMPLE).map(
        lambda record: tf.shape(data.source.decode(record))[:2]
    )
    sizes = np.array(list(shapes.as_numpy_iterator()))
    by_area = sizes[np.argsort(sizes.prod(axis=1))]
    return tuple(by_area[0]), tuple(by_area[-1])


def describe(config, num_stats_images: int) -> tuple[list[str], np.ndarray]:
    """Report lines and the first training images (uint8) of `config.dataset`."""
    data = pipeline.prepare(config)
    batches = pipeline.train_batches(data, config)
    wanted = max(num_stats_images, GRID_IMAGES)
    count = -(-wanted // pipeline.local_batch_size(config))
    taken = itertools.islice(batches, min(count, data.steps_per_epoch))
    first = np.concatenate([batch["image"] for batch in taken])
    smallest, largest = source_resolutions(data)
    mean, std = first.mean(axis=(0, 1, 2)), first.std(axis=(0, 1, 2))
    channels = "RGB" if config.num_channels == 3 else "L"
    lines = [
        f"dataset: {config.dataset}",
        f"images: {data.source.num_examples} (this process), {len(data.source.skipped)} "
        "skipped as unreadable"
        + (f": {', '.join(data.source.skipped[:10])}" if data.source.skipped else ""),
        f"source resolution (HxW, first {RESOLUTION_SAMPLE}): {smallest[0]}x{smallest[1]} "
        f"to {largest[0]}x{largest[1]}",
        f"training images: {config.image_size}x{config.image_size}x{config.num_channels}, "
        f"centre crop {config.crop_size or 'largest square'}",
        f"pixel mean/std in [0, 1] over {len(first)} images: "
        + ", ".join(f"{c} {m:.3f}/{s:.3f}" for c, m, s in zip(channels, mean, std, strict=True)),
        f"{data.steps_per_epoch} steps per epoch at batch {config.batch_size}; "
        + ("cached in memory" if data.cached is not None else "streamed from disk"),
    ]
    return lines, np.rint(first[:GRID_IMAGES] * 255).astype(np.uint8)
