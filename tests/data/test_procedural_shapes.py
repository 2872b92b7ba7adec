"""Tests for gan/data/procedural_shapes.py: offline tfds builder, determinism, label fidelity.

The labels are only useful for measuring mode collapse if they describe the pixels, so several
tests read the factors back from the images (colour, size, position): from the clean drawing
(`draw`) where a property is exact, from the stored images, grain included, where it is not.
"""

import socket
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage
import tensorflow_datasets as tfds

from gan.data import procedural_shapes as ps
from tests.conftest import REPO_ROOT

# A foreground pixel lies within this RGB distance of its palette colour; the colour jitter moves
# it by at most sqrt(3) * 10 and muted backgrounds stay much farther away.
_FOREGROUND_DISTANCE = 40.0
_FILLED_SHAPES = [i for i, name in enumerate(ps.SHAPES) if name != "ring"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The tiny config prepared once into a temp data dir, with every network access refused.

    Returns:
      The builder and the list of attempted network accesses (empty when offline).
    """
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access while preparing procedural_shapes")

    data_dir = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        builder = tfds.builder("procedural_shapes/tiny", data_dir=data_dir)
        config = tfds.download.DownloadConfig(try_download_gcs=False)
        builder.download_and_prepare(download_config=config)
    return builder, attempts


def _foreground(image: np.ndarray, factors: ps.Factors) -> np.ndarray:
    color = np.asarray(ps.PALETTE[ps.COLORS[factors.color]], np.float32)
    return np.linalg.norm(image.astype(np.float32) - color, axis=-1) < _FOREGROUND_DISTANCE


def _nearest_cell(centre_px: float) -> int:
    return int(np.argmin(np.abs(ps.POSITION_PX - centre_px)))


def _clean_example(index: int) -> tuple[np.ndarray, ps.Factors]:
    """Train example `index` as `draw` makes it, before blur and grain."""
    rng = ps.example_rng("train", index)
    factors = ps.sample_factors(rng)
    return ps.draw(factors, rng), factors


def test_builder_is_registered_with_default_and_tiny_configs(tmp_path):
    builder = tfds.builder("procedural_shapes", data_dir=tmp_path)
    assert isinstance(builder, ps.ProceduralShapes)
    assert [c.name for c in ps.ProceduralShapes.BUILDER_CONFIGS] == ["default", "tiny"]
    assert builder.builder_config.name == "default"
    assert (builder.builder_config.num_train, builder.builder_config.num_test) == (100_000, 10_000)
    assert str(builder.version) == "3.0.0"


def test_features_list_every_factor_in_label_order(prepared):
    builder, _ = prepared
    assert tuple(ps.FACTORS) == ps.Factors._fields
    for name, names in ps.FACTORS.items():
        assert builder.info.features[name].names == list(names)
    assert len(ps.SHAPES) >= 6 and len(ps.COLORS) >= 8 and len(ps.BACKGROUNDS) >= 4


def test_tiny_prepares_offline_with_expected_counts(prepared):
    builder, attempts = prepared
    assert attempts == []
    assert builder.info.splits["train"].num_examples == 512
    assert builder.info.splits["test"].num_examples == 128
    assert len(list(builder.as_dataset(split="test"))) == 128


def test_tiny_examples_have_expected_shapes_dtypes_and_ranges(prepared):
    builder, _ = prepared
    for example in tfds.as_numpy(builder.as_dataset(split="train").take(64)):
        assert example["image"].shape == (64, 64, 3)
        assert example["image"].dtype == np.uint8
        for name, names in ps.FACTORS.items():
            assert 0 <= example[name] < len(names)


def test_stored_examples_are_exactly_the_rendered_ones(prepared):
    builder, _ = prepared
    expected = {}
    for index in range(128):
        image, factors = ps.make_example("test", index)
        expected[image.tobytes()] = factors
    assert len(expected) == 128, "two test examples rendered identically"
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
        factors = expected.pop(example["image"].tobytes())
        assert factors == ps.Factors(*(int(example[name]) for name in ps.FACTORS))
    assert not expected


def test_make_example_is_deterministic_and_order_independent():
    image, factors = ps.make_example("train", 7)
    for index in range(7):
        ps.make_example("train", index)
    again_image, again_factors = ps.make_example("train", 7)
    np.testing.assert_array_equal(image, again_image)
    assert factors == again_factors
    rng = ps.example_rng("train", 7)
    assert ps.sample_factors(rng) == factors
    np.testing.assert_array_equal(ps.render(factors, rng), image)


def test_make_example_is_identical_in_a_fresh_process():
    code = (
        "from gan.data import procedural_shapes as ps; "
        'image, factors = ps.make_example("test", 3); '
        "print(image.tobytes().hex(), tuple(factors))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    image, factors = ps.make_example("test", 3)
    assert output[0] == image.tobytes().hex()
    assert output[1].strip() == str(tuple(factors))


def test_parallel_rendering_gives_the_same_examples_in_order(monkeypatch):
    monkeypatch.setattr(ps, "RENDER_BLOCK", 100)  # several blocks in flight, one cut short
    parallel = list(ps.render_examples("train", 450, workers=2))
    assert len(parallel) == 450
    for index in (0, 99, 100, 333, 449):
        image, factors = ps.make_example("train", index)
        np.testing.assert_array_equal(parallel[index][0], image)
        assert parallel[index][1] == factors


def test_train_and_test_differ():
    train = [ps.make_example("train", i) for i in range(32)]
    test = [ps.make_example("test", i) for i in range(32)]
    for (train_image, _), (test_image, _) in zip(train, test, strict=True):
        assert not np.array_equal(train_image, test_image)
    assert [f for _, f in train] != [f for _, f in test]


def test_centre_pixel_has_the_named_colour():
    rng = np.random.default_rng(0)
    for shape in _FILLED_SHAPES:
        for color, rgb in enumerate(ps.PALETTE.values()):
            x, y, background = rng.integers(len(ps.POSITIONS), size=2).tolist() + [color % 4]
            factors = ps.Factors(shape, color, ps.SIZES.index("large"), x, y, background)
            image = ps.draw(factors, rng)
            centre = image[int(ps.POSITION_PX[y]), int(ps.POSITION_PX[x])]
            np.testing.assert_allclose(centre, rgb, atol=12, err_msg=str(factors))


def test_larger_size_label_covers_more_pixels():
    for shape in range(len(ps.SHAPES)):
        areas = []
        for size in range(len(ps.SIZES)):
            factors = ps.Factors(shape, color=2, size=size, x=1, y=2, background=2)
            areas.append(_foreground(ps.draw(factors, np.random.default_rng(1)), factors).sum())
        assert areas == sorted(areas) and len(set(areas)) == len(areas), (ps.SHAPES[shape], areas)


def test_foreground_centroid_lies_in_the_labelled_cell():
    for index in range(200):
        image, factors = ps.make_example("train", index)
        rows, cols = np.nonzero(_foreground(image, factors))
        assert _nearest_cell(cols.mean() + 0.5) == factors.x, (index, factors)
        assert _nearest_cell(rows.mean() + 0.5) == factors.y, (index, factors)


def test_largest_shapes_stay_inside_the_image():
    rng = np.random.default_rng(2)
    edge = len(ps.POSITIONS) - 1
    for shape in range(len(ps.SHAPES)):
        for x, y in [(0, 0), (edge, edge), (0, edge), (edge, 0)]:
            factors = ps.Factors(shape, color=0, size=len(ps.SIZES) - 1, x=x, y=y, background=0)
            mask = _foreground(ps.draw(factors, rng), factors)
            border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
            assert not border.any(), factors


def test_shape_colour_stands_out_from_the_background():
    for index in range(300):
        image, factors = _clean_example(index)
        color = np.asarray(ps.PALETTE[ps.COLORS[factors.color]], np.float32)
        corners = image[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.float32)
        assert np.linalg.norm(corners - color, axis=-1).min() > 60, (index, factors)


def test_every_factor_value_occurs_in_a_few_hundred_examples():
    samples = np.array([ps.sample_factors(ps.example_rng("train", i)) for i in range(400)])
    for column, (name, names) in enumerate(ps.FACTORS.items()):
        assert set(samples[:, column]) == set(range(len(names))), name


def test_stored_images_are_the_drawing_blurred_with_grain():
    rng = ps.example_rng("train", 7)
    factors = ps.sample_factors(rng)
    clean = ps.draw(factors, rng)
    image, stored_factors = ps.make_example("train", 7)
    assert stored_factors == factors
    residual = image - scipy.ndimage.gaussian_filter(clean, (ps.BLUR_PX, ps.BLUR_PX, 0))
    assert abs(float(residual.std()) - ps.GRAIN) < 1.0  # the grain, plus rounding
    assert abs(float(residual.mean())) < 0.5
