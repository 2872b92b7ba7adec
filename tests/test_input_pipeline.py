"""Tests for gan/input_pipeline.py: ranges, shapes, determinism, resumable order, errors."""

import io
import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from gan import input_pipeline
from gan.errors import UserError


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_preprocess_center_crops_resizes_and_normalizes():
    # A 40x80 image: the left and right 20 columns are cut away by the square center crop.
    array = np.zeros((40, 80, 3), np.uint8)
    array[:, 20:60] = 255
    image = input_pipeline.preprocess(tf.constant(_png(array)), 32, 3).numpy()
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image, 1.0, atol=1e-6)


def test_preprocess_converts_channels_and_keeps_unit_range():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    gray = input_pipeline.preprocess(tf.constant(_png(array)), 64, 1).numpy()
    assert gray.shape == (64, 64, 1)
    rgb = input_pipeline.preprocess(tf.constant(_png(array)), 64, 3).numpy()
    np.testing.assert_allclose(rgb * 255.0, array, atol=1e-3)  # same size: no resampling
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0


def test_batches_have_the_training_shape_and_range(tiny_config):
    source = input_pipeline.load_source(tiny_config)
    assert source.num_examples == 512
    assert input_pipeline.steps_per_epoch(source, tiny_config) == 512 // tiny_config.batch_size
    batch = next(input_pipeline.train_batches(source, tiny_config))
    assert batch.shape == (tiny_config.batch_size, 32, 32, 3) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0 and batch.std() > 0.05


def _take(iterator, n):
    return np.stack(list(itertools.islice(iterator, n)))


def test_order_is_deterministic_and_resumes_mid_epoch_and_across_epochs(tiny_config):
    tiny_config.batch_size = 128  # 4 steps per epoch: 10 steps cross two epoch boundaries
    source = input_pipeline.load_source(tiny_config)
    full = _take(input_pipeline.train_batches(source, tiny_config), 10)
    np.testing.assert_array_equal(
        full, _take(input_pipeline.train_batches(source, tiny_config), 10)
    )
    for start in (3, 4, 6):
        resumed = _take(
            input_pipeline.train_batches(source, tiny_config, start_step=start), 10 - start
        )
        np.testing.assert_array_equal(resumed, full[start:])
    assert not np.array_equal(full[0], full[4])  # each epoch is shuffled anew...
    # ...but is a permutation of the same 512 images.
    np.testing.assert_array_equal(np.sort(full[:4].ravel()), np.sort(full[4:8].ravel()))


def test_seed_changes_the_order(tiny_config):
    source = input_pipeline.load_source(tiny_config)
    first = next(input_pipeline.train_batches(source, tiny_config))
    tiny_config.seed = 1
    assert not np.array_equal(first, next(input_pipeline.train_batches(source, tiny_config)))


def test_unknown_dataset_is_a_clear_error(tiny_config):
    tiny_config.dataset = "cifar100000"
    with pytest.raises(UserError, match=r"Unknown dataset 'cifar100000'.*Did you mean.*cifar"):
        input_pipeline.load_source(tiny_config)


def test_dataset_that_cannot_be_downloaded_says_how_to_get_it(tiny_config, monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    tiny_config.dataset = "mnist"
    with pytest.raises(UserError) as error:
        input_pipeline.load_source(tiny_config)
    message = str(error.value)
    assert "'mnist' is not in the tfds data dir" in message
    assert "tfds build mnist" in message and "ConnectionError" in message
