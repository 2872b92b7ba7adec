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
    images, factors = render_shapes(("circle", "triangle", "plus", "star"), 400)
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


def render_shapes(names: tuple[str, ...], count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` training images whose shapes cycle through `names`, every other factor drawn
    as the dataset draws it, and their factors (count, len(FACTORS))."""
    shapes = [procedural_shapes.SHAPES.index(name) for name in names]
    images, factors = [], []
    for index in range(count):
        rng = procedural_shapes.example_rng("train", index)
        drawn = procedural_shapes.sample_factors(rng)._replace(shape=shapes[index % len(names)])
        images.append(procedural_shapes.render(drawn, rng))
        factors.append(drawn)
    return np.stack(images), np.array(factors)


def test_angular_harmonics_give_every_shape_a_cluster_where_the_map_joins_circles_and_hexagons():
    """800 training images of the 8 shapes: the map alone puts circles and hexagons in one of
    its 8 clusters; with the log-harmonics (weight 0.3) every shape has a cluster of its own,
    and the 6th harmonic is nearly every hexagon's strongest, over log(2.5) above the
    circle's on the descriptor's log scale."""
    images, factors = render_shapes(procedural_shapes.SHAPES, 800)
    shapes = factors[:, 0]
    circle, hexagon = (procedural_shapes.SHAPES.index(name) for name in ("circle", "hexagon"))
    plain = outline_clusters.find(images, 8, seed=0)
    assert normalised_mutual_information(plain, shapes) < 0.92
    assert (
        np.bincount(plain[shapes == circle]).argmax()
        == np.bincount(plain[shapes == hexagon]).argmax()
    )
    with_harmonics = outline_clusters.find(images, 8, seed=0, harmonics_weight=0.3)
    assert normalised_mutual_information(with_harmonics, shapes) > 0.97
    found = outline_clusters.descriptors(images, harmonics_weight=1.0)
    harmonics = found[:, outline_clusters.DESCRIPTOR_SIZE**2 :]
    sixth = list(outline_clusters.HARMONICS).index(6)
    hexagons, circles = harmonics[shapes == hexagon], harmonics[shapes == circle]
    assert np.mean(hexagons.argmax(axis=1) == sixth) > 0.9
    assert np.median(hexagons[:, sixth]) - np.median(circles[:, sixth]) > np.log(2.5)


def test_class_shares_count_every_class():
    np.testing.assert_allclose(
        outline_clusters.shares(np.array([0, 0, 2, 1]), 4), [0.5, 0.25, 0.25, 0.0]
    )


def test_kmeans_recovers_separated_groups_and_not_noise():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, 400)
    centres = rng.normal(0.0, 10.0, (4, 5))
    points = centres[groups] + rng.normal(0.0, 0.5, (400, 5))
    noise = rng.normal(0.0, 1.0, (400, 5))
    for candidates in (0, 1):  # greedy and plain k-means++ seeding
        ids = outline_clusters.kmeans(points, 4, candidates=candidates)
        assert normalised_mutual_information(ids, groups) > 0.99
        ids = outline_clusters.kmeans(noise, 4, candidates=candidates)
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
