"""Tests for gan/training/losses.py: every objective against its formula in plain numpy."""

import jax.numpy as jnp
import numpy as np
import pytest

from gan.errors import UserError
from gan.training import losses


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


def test_each_loss_reads_d_against_its_own_boundary():
    real, fake = jnp.asarray(REAL), jnp.asarray(FAKE)
    # LSGAN regresses to 1 (real) and 0 (generated): 0.5 separates them, outputs stay raw.
    lsgan = losses.get_loss("lsgan").statistics(real, fake)
    assert float(lsgan["d_acc_real"]) == np.mean(REAL > 0.5)
    assert float(lsgan["d_acc_fake"]) == np.mean(FAKE < 0.5)
    assert float(lsgan["d_real"]) == pytest.approx(np.mean(REAL), rel=1e-6)
    # The hinge's margin is centred on 0; its scores are not logits.
    hinge = losses.get_loss("hinge").statistics(real, fake)
    assert float(hinge["d_acc_real"]) == np.mean(REAL > 0)
    assert float(hinge["d_fake"]) == pytest.approx(np.mean(FAKE), rel=1e-6)
    # A critic's scores shift freely: shifting both sides changes nothing.
    critic = losses.get_loss("wgan_gp")
    shifted = critic.statistics(real + 100.0, fake + 100.0)
    midpoint = (np.mean(REAL) + np.mean(FAKE)) / 2
    assert float(shifted["d_acc_real"]) == np.mean(midpoint < REAL)
    assert float(shifted["d_acc_fake"]) == np.mean(midpoint > FAKE)
    assert float(critic.statistics(real, fake)["d_acc_real"]) == np.mean(midpoint < REAL)


def test_minimax_generator_loss_is_log_one_minus_d():
    p = 1 / (1 + np.exp(-FAKE))
    got = losses.minimax_generator_loss(jnp.asarray(FAKE))
    assert float(got) == pytest.approx(np.mean(np.log(1 - p)), rel=1e-6)


def test_hinge_losses():
    want_d = np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE))
    loss = losses.get_loss("hinge")
    assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(want_d, rel=1e-6)
    assert float(loss.generator(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


def test_wasserstein_losses():
    loss = losses.get_loss("wgan_gp")
    want = np.mean(FAKE) - np.mean(REAL)
    assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(want, rel=1e-6)
    assert float(loss.generator(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


def test_least_squares_losses():
    loss = losses.get_loss("lsgan")
    want_d = 0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE**2)
    assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(want_d, rel=1e-6)
    assert float(loss.generator(FAKE)) == pytest.approx(0.5 * np.mean((FAKE - 1) ** 2), rel=1e-6)


def test_relativistic_losses_pair_each_fake_with_a_real_image():
    loss = losses.get_loss("relativistic")
    want_d = np.mean(np.log1p(np.exp(FAKE - REAL)))
    assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(want_d, rel=1e-6)
    assert float(loss.generator(FAKE, REAL)) == pytest.approx(
        np.mean(np.log1p(np.exp(REAL - FAKE))), rel=1e-6
    )
    # Only the differences count: shifting every score changes neither loss.
    assert float(loss.discriminator(REAL + 50, FAKE + 50)) == pytest.approx(want_d, rel=1e-5)
    # Pairs, not batch means: the same scores paired otherwise give another loss.
    assert float(loss.discriminator(REAL[::-1], FAKE)) != pytest.approx(want_d, rel=1e-3)
    assert loss.generator_reads_real and not losses.get_loss("non_saturating").generator_reads_real


def test_label_smoothing_targets_one_minus_epsilon_for_real_images_only():
    loss = losses.get_loss("non_saturating", label_smoothing=0.1)
    got = loss.discriminator(jnp.asarray(REAL), jnp.asarray(FAKE))
    assert float(got) == pytest.approx(_bce(REAL, 0.9) + _bce(FAKE, 0), rel=1e-6)
    assert loss.generator is losses.generator_loss  # G's target stays 1


def test_default_loss_is_the_dcgan_loss():
    loss = losses.get_loss("non_saturating")
    assert loss.discriminator is losses.discriminator_loss
    assert loss.generator is losses.generator_loss


@pytest.mark.parametrize(
    ("name", "smoothing", "message"),
    [("wgan", 0.0, "Unknown loss 'wgan'"), ("hinge", 0.1, "no meaning for the 'hinge' loss")],
)
def test_bad_loss_settings_are_user_errors(name, smoothing, message):
    with pytest.raises(UserError, match=message):
        losses.get_loss(name, smoothing)
