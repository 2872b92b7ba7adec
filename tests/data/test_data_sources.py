"""Tests for gan/data/sources.py: image folders (with broken files), .npz arrays, tfds."""

import itertools

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from gan.data import pipeline, sources
from gan.errors import UserError


def _save(path, image, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path, **kwargs)


@pytest.fixture
def image_folder(tmp_path):
    """A folder tree in every supported format and colour mode, plus broken files."""
    rng = np.random.default_rng(0)
    rgb = lambda h, w: rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # noqa: E731
    root = tmp_path / "images"
    for i in range(6):
        _save(root / f"png/{i}.png", rgb(40, 40))
    _save(root / "jpeg/wide.JPG", rgb(30, 60), quality=95)  # non-square, upper-case extension
    _save(root / "gray.png", rng.integers(0, 256, (40, 40), dtype=np.uint8))
    _save(root / "rgba.png", rng.integers(0, 256, (40, 40, 4), dtype=np.uint8))
    _save(root / "palette.png", Image.fromarray(rgb(40, 40)).convert("P"))
    _save(root / "tall.bmp", rgb(50, 30))
    _save(root / "anim.gif", rgb(40, 40))
    _save(root / "deep/er/photo.webp", rgb(40, 40))
    (root / "corrupt.png").write_bytes(b"this is not an image")
    good_png = (root / "png/0.png").read_bytes()
    (root / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    (root / "notes.txt").write_text("ignored: not an image extension")
    return root


def test_folder_reads_every_format_and_reports_broken_files(image_folder, tiny_config):
    tiny_config.dataset = f"folder:{image_folder}"
    source = sources.load_source(tiny_config)
    assert source.num_examples == 13
    assert sorted(p.rsplit("/", 1)[-1] for p in source.skipped) == ["corrupt.png", "truncated.png"]
    images = list(source.records.map(source.decode).as_numpy_iterator())
    assert all(image.ndim == 3 and image.shape[-1] == 3 for image in images)
    assert {image.shape[:2] for image in images} >= {(30, 60), (50, 30), (40, 40)}


@pytest.mark.parametrize("cache_max_gb", [8.0, 0.0])
def test_folder_batches_are_deterministic_and_resumable(image_folder, tiny_config, cache_max_gb):
    tiny_config.dataset = f"folder:{image_folder}"
    tiny_config.num_channels = 1
    tiny_config.batch_size = 4  # 13 good images: 3 steps per epoch
    tiny_config.cache_max_gb = cache_max_gb
    data = pipeline.prepare(tiny_config)
    assert data.steps_per_epoch == 3
    batches = itertools.islice(pipeline.train_batches(data, tiny_config), 7)
    full = np.stack([batch["image"] for batch in batches])
    assert full.shape == (7, 4, 32, 32, 1)
    resumed = itertools.islice(pipeline.train_batches(data, tiny_config, start_step=4), 3)
    np.testing.assert_array_equal(np.stack([batch["image"] for batch in resumed]), full[4:])


def test_empty_or_missing_folder_is_a_clear_error(tmp_path, tiny_config):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    tiny_config.dataset = f"folder:{tmp_path / 'empty'}"
    with pytest.raises(UserError, match="holds no image files"):
        sources.load_source(tiny_config)
    tiny_config.dataset = f"folder:{tmp_path / 'missing'}"
    with pytest.raises(UserError, match="is not a directory"):
        sources.load_source(tiny_config)


def test_npz_arrays_are_a_source(tmp_path, tiny_config):
    images = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "samples.npz", images=images)
    tiny_config.dataset = f"npz:{tmp_path / 'samples.npz'}"
    source = sources.load_source(tiny_config)
    assert source.num_examples == 20
    decoded = np.stack(list(source.records.map(source.decode).as_numpy_iterator()))
    np.testing.assert_array_equal(decoded, images)

    np.savez(tmp_path / "gray.npz", images[..., 0])  # (N, H, W) under its default key
    tiny_config.dataset = f"npz:{tmp_path / 'gray.npz'}"
    source = sources.load_source(tiny_config)
    first = next(source.records.map(source.decode).as_numpy_iterator())
    np.testing.assert_array_equal(first, np.repeat(images[0, ..., :1], 3, axis=-1))


def test_each_process_reads_its_share_unless_it_asks_for_the_whole(
    tmp_path, tiny_config, monkeypatch
):
    images = np.arange(5 * 8 * 8 * 3, dtype=np.uint8).reshape(5, 8, 8, 3)
    np.savez(tmp_path / "five.npz", images=images)
    tiny_config.dataset = f"npz:{tmp_path / 'five.npz'}"
    monkeypatch.setattr(sources.jax, "process_count", lambda: 2)
    monkeypatch.setattr(sources.jax, "process_index", lambda: 1)
    second_half = np.stack(list(sources.load_source(tiny_config).records.as_numpy_iterator()))
    np.testing.assert_array_equal(second_half, images[2:4])  # 2 each; the fifth is dropped
    tiny_config.dataset = "procedural_shapes/tiny"
    assert sources.load_source(tiny_config).num_examples == 512 // 2
    # Evaluation's reference images: every process reads all of them.
    assert sources.load_source(tiny_config, whole=True).num_examples == 512
    tiny_config.dataset = f"npz:{tmp_path / 'five.npz'}"
    assert sources.load_source(tiny_config, whole=True).num_examples == 5


def test_bad_npz_is_a_clear_error(tmp_path, tiny_config):
    np.savez(tmp_path / "floats.npz", images=np.zeros((4, 8, 8, 3), np.float32))
    tiny_config.dataset = f"npz:{tmp_path / 'floats.npz'}"
    with pytest.raises(UserError, match=r"must hold uint8 images shaped \(N, H, W, C\)"):
        sources.load_source(tiny_config)
    tiny_config.dataset = f"npz:{tmp_path / 'missing.npz'}"
    with pytest.raises(UserError, match="Cannot read"):
        sources.load_source(tiny_config)


def test_tfds_datasets_flow_through_the_same_pipeline(tiny_config):
    """mnist (28x28 grayscale) from tfds's mock data, expanded to RGB and resized to 32."""
    tiny_config.dataset = "mnist"
    with tfds.testing.mock_data(num_examples=40):
        data = pipeline.prepare(tiny_config)
        batch = next(pipeline.train_batches(data, tiny_config))["image"]
    assert data.source.num_examples == 40
    assert batch.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(batch[..., 0], batch[..., 2])  # gray repeated over channels


def test_tfds_split_and_feature_are_checked(tiny_config):
    tiny_config.split = "validation"
    with pytest.raises(UserError, match=r"cannot read split 'validation' \(Unknown split"):
        sources.load_source(tiny_config)
    tiny_config.split, tiny_config.image_key = "train", "picture"
    with pytest.raises(UserError, match="has no feature 'picture'"):
        sources.load_source(tiny_config)


def test_unknown_dataset_is_a_clear_error(tiny_config):
    tiny_config.dataset = "cifar100000"
    with pytest.raises(UserError, match=r"Unknown dataset 'cifar100000'.*Did you mean.*cifar"):
        sources.load_source(tiny_config)


def test_dataset_that_cannot_be_downloaded_says_how_to_get_it(tiny_config, monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    tiny_config.dataset = "mnist"
    with pytest.raises(UserError) as error:
        sources.load_source(tiny_config)
    message = str(error.value)
    assert "'mnist' is not in the tfds data dir" in message
    assert "tfds build mnist" in message and "ConnectionError" in message
