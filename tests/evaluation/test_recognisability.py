"""Tests for gan/evaluation/recognisability.py: it passes real shapes and fails blobs and blur.

The controls are the ones the measure exists for (experiments/recognisability_controls.py):
real test images must score at least 0.95; the same images blurred by 3 px, or with their
shape replaced by a filled ellipse of the same colour, centre and area, at most 0.3, overall
and for every shape.
"""

import numpy as np
import pytest

from experiments import recognisability_controls
from gan.data import procedural_shapes
from gan.evaluation import recognisability

NUM_IMAGES = 320  # 40 of each shape on average


@pytest.fixture(scope="module")
def control_fits():
    """{control: (fits (N, 8), true shapes (N,))} for every control."""
    results = {}
    for kind in recognisability_controls.KINDS:
        pictures, shapes = recognisability_controls.controls(kind, NUM_IMAGES)
        results[kind] = recognisability.shape_fits(pictures), shapes
    return results


def _recognised_per_shape(fits, shapes):
    recognised = fits.max(1) >= recognisability.THRESHOLD
    return recognised.mean(), {
        name: recognised[shapes == k].mean()
        for k, name in enumerate(recognisability.SHAPES)
        if (shapes == k).any()
    }


def test_real_images_are_recognised_as_their_own_shape(control_fits):
    fits, shapes = control_fits["real"]
    overall, per_shape = _recognised_per_shape(fits, shapes)
    assert overall >= 0.95
    assert min(per_shape.values()) >= 0.9, per_shape
    recognised = fits.max(1) >= recognisability.THRESHOLD
    assert np.mean(fits.argmax(1)[recognised] == shapes[recognised]) >= 0.95
    # Read as labelled samples: their own shape passes, the next shape's label does not.
    assert recognisability.recognisable_as(fits, shapes) >= 0.9
    assert recognisability.recognisable_as(fits, (shapes + 1) % len(recognisability.SHAPES)) < 0.05


@pytest.mark.parametrize("kind", ["blurred", "ellipse"])
def test_blurred_shapes_and_blobs_are_not_recognised(control_fits, kind):
    fits, shapes = control_fits[kind]
    overall, per_shape = _recognised_per_shape(fits, shapes)
    assert overall <= 0.3
    assert max(per_shape.values()) <= 0.3, per_shape
    if kind == "ellipse":
        assert not {"circle", "hexagon"} & set(per_shape)  # an ellipse resembles them


def test_pictures_without_a_shape_are_not_recognised():
    rng = np.random.default_rng(0)
    background = np.full((4, 64, 64, 3), 120, np.uint8)
    noise = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    fits = recognisability.shape_fits(np.concatenate([background, noise]))
    assert fits.max() < recognisability.THRESHOLD


def test_summary_reports_each_shapes_share_so_one_shape_cannot_pass():
    """A generator that draws only (perfect) circles is 100% recognisable, but its shares say
    it draws one shape."""
    circles = [procedural_shapes.make_example("test", i) for i in range(200)]
    circles = np.stack([image for image, f in circles if f.shape == 0][:8])
    summary = recognisability.summarise(recognisability.shape_fits(circles))
    assert summary["recognisable"] == 1.0
    assert summary["recognisable_circle"] == 1.0
    assert sum(summary[f"recognisable_{name}"] for name in recognisability.SHAPES) == 1.0


def test_other_resolutions_are_scored_at_64_px():
    image, factors = procedural_shapes.make_example("test", 3)
    small = np.asarray(
        recognisability.Image.fromarray(image).resize((32, 32), recognisability.Image.BILINEAR)
    )
    fits = recognisability.shape_fits(small[None])
    assert fits.shape == (1, len(recognisability.SHAPES))
    assert fits[0].argmax() == factors.shape
