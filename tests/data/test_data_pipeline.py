"""Tests for gan/data/pipeline.py: preprocessing, shapes, ranges, deterministic resumable order."""

import io
import itertools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gan.data import pipeline, sources
from gan.errors import UserError


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _preprocess(array, image_size, num_channels, crop_size=0):
    image = sources.decode_image(tf.constant(_png(array)), num_channels)
    return pipeline.crop_and_resize(image, image_size, crop_size).numpy()


def test_center_crop_and_resize():
    # A 40x80 image: the left and right 20 columns are cut away by the square center crop.
    array = np.zeros((40, 80, 3), np.uint8)
    array[:, 20:60] = 255
    image = _preprocess(array, 32, 3)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert np.all(image == 255)


def test_explicit_crop_size_keeps_the_centre():
    array = np.zeros((100, 100, 3), np.uint8)
    array[40:60, 40:60] = 200  # a 20x20 centre patch: a 20-pixel crop sees only it
    np.testing.assert_array_equal(_preprocess(array, 10, 3, crop_size=20), 200)


def test_same_size_is_lossless_and_channels_convert():
    array = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_preprocess(array, 64, 3), array)
    assert _preprocess(array, 64, 1).shape == (64, 64, 1)


def test_normalize_maps_uint8_to_unit_range():
    pixels = np.array([0, 51, 255], np.uint8)
    np.testing.assert_allclose(pipeline.normalize(pixels), [0.0, 0.2, 1.0], atol=1e-7)
    assert pipeline.normalize(pixels).dtype == np.float32
    np.testing.assert_allclose(pipeline.normalize(tf.constant(pixels)).numpy(), [0.0, 0.2, 1.0])


@pytest.fixture(params=["cached", "streamed"])
def data_config(request, tiny_config):
    """The tiny config, with the data kept in memory or streamed through tf.data."""
    tiny_config.cache_max_gb = 8.0 if request.param == "cached" else 0.0
    tiny_config.batch_size = 128  # 4 steps per epoch: 10 steps cross two epoch boundaries
    return tiny_config


def test_batches_have_the_training_shape_and_range(data_config):
    data = pipeline.prepare(data_config)
    assert data.source.num_examples == 512 and data.steps_per_epoch == 4
    assert (data.cached is None) == (data_config.cache_max_gb == 0)
    batch = next(pipeline.train_batches(data, data_config))
    assert set(batch) == {"image"}  # labels only for class-conditional training
    batch = batch["image"]
    assert batch.shape == (128, 32, 32, 3) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0 and batch.std() > 0.05


def test_decoded_images_are_written_once_and_mapped_by_later_runs(tiny_config):
    path = pipeline.decoded_cache_path(sources.load_source(tiny_config), tiny_config)
    path.unlink(missing_ok=True)
    decoded = pipeline.prepare(tiny_config).cached  # a first run: decodes, writes the file
    assert path.exists() and not isinstance(decoded, np.memmap)
    mapped = pipeline.prepare(tiny_config).cached  # a later run: maps the file
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, decoded)

    path.write_bytes(path.read_bytes()[:1000])  # a truncated file is decoded again, rewritten
    np.testing.assert_array_equal(pipeline.prepare(tiny_config).cached, decoded)
    np.testing.assert_array_equal(np.load(path), decoded)


def _take(iterator, n):
    return np.stack([batch["image"] for batch in itertools.islice(iterator, n)])


def test_order_is_deterministic_and_resumes_mid_epoch_and_across_epochs(data_config):
    data = pipeline.prepare(data_config)
    full = _take(pipeline.train_batches(data, data_config), 10)
    np.testing.assert_array_equal(full, _take(pipeline.train_batches(data, data_config), 10))
    for start in (3, 4, 6):
        resumed = _take(pipeline.train_batches(data, data_config, start_step=start), 10 - start)
        np.testing.assert_array_equal(resumed, full[start:])
    assert not np.array_equal(full[0], full[4])  # each epoch is shuffled anew...
    # ...but is a permutation of the same 512 images.
    np.testing.assert_array_equal(np.sort(full[:4].ravel()), np.sort(full[4:8].ravel()))


def test_cached_and_streamed_paths_see_the_same_images(tiny_config):
    tiny_config.batch_size = 512  # one batch is the whole epoch: same set, any order
    epochs = []
    for cache_max_gb in (8.0, 0.0):
        tiny_config.cache_max_gb = cache_max_gb
        data = pipeline.prepare(tiny_config)
        epochs.append(next(pipeline.train_batches(data, tiny_config))["image"])
    key = lambda batch: batch.reshape(len(batch), -1).sum(axis=1)  # noqa: E731
    np.testing.assert_array_equal(np.sort(key(epochs[0])), np.sort(key(epochs[1])))


def test_seed_changes_the_order(tiny_config):
    data = pipeline.prepare(tiny_config)
    first = next(pipeline.train_batches(data, tiny_config))["image"]
    tiny_config.seed = 1
    assert not np.array_equal(first, next(pipeline.train_batches(data, tiny_config))["image"])


def test_dataset_smaller_than_a_batch_is_a_clear_error(tiny_config):
    tiny_config.batch_size = 1024
    with pytest.raises(UserError, match="fewer than one batch of 1024"):
        pipeline.prepare(tiny_config)
