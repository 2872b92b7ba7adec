"""Tests for gan/models/self_conditioning.py: online k-means finds separated groups and follows
them, restarts dead clusters, and a self-conditioned run trains and samples by cluster."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan.models import sampling, self_conditioning
from gan.training import train


def _groups(rng, centres, per_group):
    """Unit-length points scattered tightly around each of `centres` (G, F), shuffled."""
    points = np.repeat(centres, per_group, axis=0) + 0.05 * rng.normal(
        size=(len(centres) * per_group, centres.shape[1])
    )
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return jnp.asarray(rng.permutation(points), jnp.float32)


def test_online_kmeans_separates_groups_and_follows_them_as_they_move():
    rng = np.random.default_rng(0)
    truth = np.linalg.qr(rng.normal(size=(16, 4)))[0].T  # 4 orthonormal directions
    centres, shares = jnp.zeros((4, 16)), jnp.full((4,), 0.25)
    step = jax.jit(self_conditioning.online_kmeans_step)
    for _ in range(300):
        centres, shares = step(centres, shares, _groups(rng, truth, 8))
    # Each true group is one cluster, with its share of the data.
    found = np.asarray(jnp.argmax(jnp.asarray(truth, jnp.float32) @ centres.T, axis=1))
    assert sorted(found) == [0, 1, 2, 3]
    np.testing.assert_allclose(np.asarray(shares), 0.25, atol=0.06)
    # The groups rotate slowly; the clusters keep their identity and follow.
    moved = truth.copy()
    for _ in range(400):
        moved = moved + 0.002 * np.roll(truth, 1, axis=0)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        centres, shares = step(centres, shares, _groups(rng, moved, 8))
    followed = np.asarray(jnp.argmax(jnp.asarray(moved, jnp.float32) @ centres.T, axis=1))
    np.testing.assert_array_equal(followed, found)
    assert np.all(np.sum(moved * np.asarray(centres)[found], axis=1) > 0.97)


def test_a_cluster_that_receives_nothing_restarts_where_the_fit_is_worst():
    rng = np.random.default_rng(1)
    truth = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    centres = jnp.asarray(np.concatenate([truth[:2], -truth[:1]]), jnp.float32)  # one far away
    shares = jnp.asarray([0.5, 0.5, 0.001])
    centres, shares = self_conditioning.online_kmeans_step(centres, shares, _groups(rng, truth, 8))
    # The third centre now sits on the group that the first two do not cover.
    assert float(jnp.dot(centres[2], jnp.asarray(truth[2], jnp.float32))) > 0.9
    assert float(shares[2]) == pytest.approx(1 / 3)


def test_self_conditioned_run_clusters_d_features_and_samples_clusters_by_share(
    tiny_config, tmp_path
):
    tiny_config.self_conditioning_clusters = 4
    tiny_config.d_packing = 1  # a conditional D scores images one by one
    state = train.train_and_evaluate(tiny_config, str(tmp_path))
    clusters = state.d_batch_stats["clusters"]
    centres, shares = np.asarray(clusters["centres"]), np.asarray(clusters["shares"])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0, rtol=1e-5)
    assert shares.sum() == np.float32(shares.sum()) and 0.5 < shares.sum() < 1.5
    assert "class_projection" in state.d_params and "ConditionalBatchNorm_0" in state.g_params
    # D assigns images it is given no classes for, and sampling follows the clusters' shares.
    images = jax.random.uniform(jax.random.key(0), (8, 32, 32, 3)) * 2 - 1
    variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    logits, sown = state.discriminator.apply(
        variables, images, train=False, mutable=["intermediates"]
    )
    assert logits.shape == (8,) and sown["intermediates"]["cluster"][0].shape == (8,)
    drawn = np.asarray(sampling.drawn_labels(state, 1000))
    assert np.all(np.diff(drawn) >= 0)
    np.testing.assert_allclose(
        np.bincount(drawn, minlength=4) / 1000, shares / shares.sum(), atol=2e-3
    )
