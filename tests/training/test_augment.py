"""Tests for gan/training/augment.py: DiffAugment transforms do what they say, differentiably."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan.errors import UserError
from gan.training import augment

IMAGES = jax.random.uniform(jax.random.PRNGKey(0), (6, 16, 16, 3), minval=-1.0, maxval=1.0)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`image` moved down by dy and right by dx, zero-filled."""
    h, w, _ = image.shape
    out = np.zeros_like(image)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_translation_shifts_each_image_within_an_eighth_of_its_side():
    out = np.asarray(augment.translation(IMAGES, jax.random.PRNGKey(1)))
    shifts = []
    for image, moved in zip(np.asarray(IMAGES), out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(moved, _shifted(image, dy, dx))
        ]
        assert matches, "output is not a zero-filled shift of at most 2 pixels"
        shifts.append(matches[0])
    assert len(set(shifts)) > 1  # independent per image


def test_cutout_erases_one_square_of_half_the_side():
    out = np.asarray(augment.cutout(IMAGES, jax.random.PRNGKey(2)))
    erased = np.all(out == 0, axis=-1)
    np.testing.assert_array_equal(out[~erased], np.asarray(IMAGES)[~erased])
    for mask in erased:
        rows, cols = np.nonzero(mask)
        assert 0 < mask.sum() <= 8 * 8
        assert mask.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # one axis-aligned box
        assert np.ptp(rows) < 8 and np.ptp(cols) < 8


def test_color_changes_brightness_saturation_and_contrast_per_image():
    out = np.asarray(augment.color(IMAGES, jax.random.PRNGKey(3)))
    assert out.shape == IMAGES.shape
    means = out.mean(axis=(1, 2, 3)) - np.asarray(IMAGES).mean(axis=(1, 2, 3))
    assert np.all(np.abs(means) <= 0.5 + 1e-6)  # brightness is the only shift of the mean
    assert len(np.unique(np.round(means, 5))) == len(means)


def test_policy_is_differentiable_and_not_the_identity():
    policy = "color,translation,cutout"
    rng = jax.random.PRNGKey(4)
    out = augment.diff_augment(IMAGES, policy, rng)
    assert not np.allclose(out, IMAGES)
    weights = jax.random.normal(jax.random.PRNGKey(5), IMAGES.shape)
    grad = jax.grad(lambda x: jnp.sum(weights * augment.diff_augment(x, policy, rng)))(IMAGES)
    assert np.all(np.isfinite(grad)) and np.abs(np.asarray(grad)).sum() > 0
    # The same key gives the same transform, so D's real and fake views are reproducible.
    np.testing.assert_array_equal(out, augment.diff_augment(IMAGES, policy, rng))


def test_translation_gradient_routes_back_to_the_source_pixels():
    rng = jax.random.PRNGKey(6)
    grad = jax.grad(lambda x: jnp.sum(augment.translation(x, rng)))(IMAGES)
    # Every input pixel still inside the frame after the shift gets gradient 1, the rest 0.
    visible = np.asarray(augment.translation(jnp.ones_like(IMAGES), rng)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(grad).sum(axis=(1, 2, 3)), visible)


def test_empty_policy_is_the_identity_and_unknown_names_are_user_errors():
    assert augment.diff_augment(IMAGES, "", jax.random.PRNGKey(0)) is IMAGES
    with pytest.raises(UserError, match="Unknown DiffAugment transform.*'flip'"):
        augment.parse_policy("color,flip")
