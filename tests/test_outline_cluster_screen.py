"""Tests for experiments/outline_cluster_screen.py: the outline clusters follow the shape,
not the colour, size or position the raw pixels follow."""

import numpy as np

from experiments import outline_cluster_screen
from experiments.d_feature_clusters import kmeans, normalised_mutual_information
from gan.data import procedural_shapes


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
    clusters = outline_cluster_screen.outline_clusters(images, 4, seed=0)
    nmi = {
        name: normalised_mutual_information(clusters, factors[:, i])
        for i, name in enumerate(procedural_shapes.FACTORS)
    }
    assert nmi["shape"] > 0.8
    assert max(nmi["color"], nmi["x"], nmi["y"], nmi["background"]) < 0.1
    pixels = kmeans(images.reshape(len(images), -1).astype(np.float32) / 255.0, 4)
    assert normalised_mutual_information(pixels, factors[:, 0]) < 0.2
