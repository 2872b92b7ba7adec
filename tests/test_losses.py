"""Tests for gan/losses.py against plain numpy binary cross-entropy."""

import jax.numpy as jnp
import numpy as np
import pytest

from gan import losses


def _bce(logits, label):
    p = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    return float(np.mean(-(label * np.log(p) + (1 - label) * np.log(1 - p))))


REAL = np.array([2.0, -0.5, 0.3, 4.0])
FAKE = np.array([-1.0, 0.7, -3.0, 0.0])


def test_discriminator_loss_is_bce_real_plus_bce_fake():
    got = losses.discriminator_loss(jnp.asarray(REAL), jnp.asarray(FAKE))
    assert float(got) == pytest.approx(_bce(REAL, 1) + _bce(FAKE, 0), rel=1e-6)


def test_generator_loss_is_non_saturating():
    got = losses.generator_loss(jnp.asarray(FAKE))
    assert float(got) == pytest.approx(_bce(FAKE, 1), rel=1e-6)


def test_losses_stay_finite_for_confident_logits():
    confident = jnp.asarray([-200.0, 200.0])
    assert np.isfinite(float(losses.discriminator_loss(confident, confident)))
    assert float(losses.generator_loss(jnp.asarray([-200.0]))) == pytest.approx(200.0)


def test_discriminator_statistics():
    stats = losses.discriminator_statistics(jnp.asarray(REAL), jnp.asarray(FAKE))
    assert float(stats["d_acc_real"]) == 0.75  # -0.5 is misclassified
    assert float(stats["d_acc_fake"]) == 0.5  # 0.7 and 0.0 are not below the threshold
    assert float(stats["d_real"]) == pytest.approx(np.mean(1 / (1 + np.exp(-REAL))), rel=1e-6)
    assert float(stats["d_fake"]) == pytest.approx(np.mean(1 / (1 + np.exp(-FAKE))), rel=1e-6)
