"""Tests for gan/models/outline_clusters.py: the clusters follow the shape, not the colour,
size or position the raw pixels follow."""

import numpy as np

from experiments.d_feature_clusters import normalised_mutual_information
from gan.data import procedural_shapes
from gan.models import outline_clusters


def test_outline_clusters_follow_the_shape_where_pixels_follow_colour_and_size():
    """400 training images of four shapes (circle, triangle, plus, star) in every colour, size,
    position and background: their four outline clusters share most of their information
    with the shape and little with anything else; k-means on the raw pixels (the control)
    does not find the shape."""
    shapes = [procedural_shapes.SHAPES.index(s) for s in ("circle", "triangle", "plus", "star")]
    images, factors = [], []
    for index in range(400):
        rng = procedural_shapes.example_rng("train", index)
        drawn = procedural_shapes.sample_factors(rng)._replace(shape=shapes[index % 4])
        images.append(procedural_shapes.render(drawn, rng))
        factors.append(drawn)
    images, factors = np.stack(images), np.array(factors)
    clusters = outline_clusters.find(images, 4, seed=0)
    assert clusters.dtype == np.int32
    nmi = {
        name: normalised_mutual_information(clusters, factors[:, i])
        for i, name in enumerate(procedural_shapes.FACTORS)
    }
    assert nmi["shape"] > 0.8
    assert max(nmi["color"], nmi["x"], nmi["y"], nmi["background"]) < 0.1
    pixels = outline_clusters.kmeans(images.reshape(len(images), -1) / 255.0, 4)
    assert normalised_mutual_information(pixels, factors[:, 0]) < 0.2


def test_class_shares_count_every_class():
    np.testing.assert_allclose(
        outline_clusters.shares(np.array([0, 0, 2, 1]), 4), [0.5, 0.25, 0.25, 0.0]
    )


def test_kmeans_recovers_separated_groups_and_not_noise():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, 400)
    centres = rng.normal(0.0, 10.0, (4, 5))
    points = centres[groups] + rng.normal(0.0, 0.5, (400, 5))
    ids = outline_clusters.kmeans(points, 4)
    assert normalised_mutual_information(ids, groups) > 0.99
    noise = rng.normal(0.0, 1.0, (400, 5))
    ids = outline_clusters.kmeans(noise, 4)
    assert normalised_mutual_information(ids, groups) < 0.05


def test_every_process_layout_draws_the_kmeans_sample_one_process_draws(monkeypatch):
    """Two processes, each holding half of the descriptors, gather exactly the sample one
    process holding them all draws: the same clusters for any number of processes."""
    found = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    monkeypatch.setattr(outline_clusters, "KMEANS_SAMPLE", 25)
    alone = outline_clusters._kmeans_sample(found, seed=3)
    filled = []  # each process's rows, which the real gather stacks and the sample sums

    def gather(rows):
        filled.append(rows)
        return rows[None]

    monkeypatch.setattr(outline_clusters.multihost_utils, "process_allgather", gather)
    monkeypatch.setattr(outline_clusters.jax, "process_count", lambda: 2)
    for index in range(2):
        monkeypatch.setattr(outline_clusters.jax, "process_index", lambda index=index: index)
        outline_clusters._kmeans_sample(found[index * 20 : (index + 1) * 20], seed=3)
    np.testing.assert_array_equal(filled[0] + filled[1], alone)
    assert (filled[0] != 0).any(axis=1).sum() + (filled[1] != 0).any(axis=1).sum() == 25
