"""Tests for gan/models/code_reader.py: the outline view hides colour and background and keeps
the shape; its magnification; Q's random view in training only."""

import jax
import jax.numpy as jnp
import numpy as np

from gan.data import procedural_shapes
from gan.models import code_reader


def _every_shape(color: int, background: int, seed: int) -> jax.Array:
    """The eight shapes, medium and centred, of one colour on one background, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    images = [
        procedural_shapes.render(procedural_shapes.Factors(shape, color, 1, 1, 1, background), rng)
        for shape in range(len(procedural_shapes.SHAPES))
    ]
    return jnp.asarray(np.stack(images), jnp.float32) / 127.5 - 1.0


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every image of `a` with every image of `b` (flattened)."""
    a, b = (x.reshape(len(x), -1) for x in (a, b))
    a, b = (x - x.mean(axis=1, keepdims=True) for x in (a, b))
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
    return a @ b.T


def test_outline_view_keeps_the_shape_across_colours_and_backgrounds():
    """Red shapes on a flat background and blue ones on a glow, each with its own grain: in the
    view each shape is most like the same shape of the other set, and nearly the same image;
    the raw pixels (the control) do not match shapes across the two sets."""
    red_flat, blue_glow = _every_shape(0, 0, seed=1), _every_shape(5, 3, seed=2)
    views = [np.asarray(code_reader.outline_view(x)) for x in (red_flat, blue_glow)]
    assert views[0].shape == (8, 64, 64, 1)
    assert views[0].min() >= 0 and np.allclose(views[0].max(axis=(1, 2, 3)), 1.0)
    similar = _correlations(*views)
    assert np.all(np.argmax(similar, axis=1) == np.arange(8))
    assert np.diag(similar).min() > 0.85
    raw = _correlations(np.asarray(red_flat), np.asarray(blue_glow))
    assert not np.all(np.argmax(raw, axis=1) == np.arange(8))


def test_view_magnifies_about_the_centre_and_draws_no_frame():
    """At scale 1.5 the outline of a centred square 12 px wide is 18 px wide, still centred;
    the image border, repeated beyond the edge, makes no edge at either scale; scale 1 is the
    unmagnified view, whose images share one pair of matrices."""
    image = np.full((1, 32, 32, 3), -0.5, np.float32)
    image[:, 10:22, 10:22] = 0.5
    images = jnp.asarray(np.concatenate([image, image]))
    views = np.asarray(code_reader.outline_view(images, jnp.array([1.0, 1.5])))[..., 0]
    unmagnified = np.asarray(code_reader.outline_view(images))[..., 0]
    np.testing.assert_allclose(unmagnified, views[[0, 0]], atol=1e-5)
    for view, width in zip(views, (12, 18), strict=True):
        edges = np.flatnonzero(view[16] > 0.5)
        left, right = edges[edges < 16].mean(), edges[edges >= 16].mean()
        assert abs((right - left) - width) <= 1 and abs((right + left) / 2 - 15.5) <= 0.5
        assert view[0].max() < 0.01 and view[:, 0].max() < 0.01


def test_reader_magnifies_only_when_given_the_random_stream():
    """Without the "view" stream (evaluation, initialisation) Q is a function of the images;
    with it, two keys give two different readings of the same images."""
    reader = code_reader.OutlineCodeReader(categories=4, width=4)
    images = _every_shape(2, 1, seed=0)
    params = reader.init(jax.random.key(0), images)
    plain = reader.apply(params, images)
    assert plain.shape == (8, 4)
    np.testing.assert_array_equal(plain, reader.apply(params, images))
    readings = [
        reader.apply(params, images, rngs={code_reader.VIEW_RNG: jax.random.key(k)}) for k in (1, 2)
    ]
    assert not np.allclose(readings[0], readings[1])


def test_reader_cannot_go_flat():
    """Q's logits keep LOGIT_SCALE's spread over the batch in every category, and each image's
    logits differ from category to category, also when its last layer is shrunk tenfold, to
    the spread a plain Q went down to (0.01-0.03) reading nothing: G always has a guess to
    make right."""
    reader = code_reader.OutlineCodeReader(categories=8)
    images = _every_shape(2, 1, seed=0)
    params = reader.init(jax.random.key(0), images)
    last = jax.tree.map(lambda w: w * 0.1, params["params"]["Dense_1"])
    shrunk = {"params": params["params"] | {"Dense_1": last}}
    for variables in (params, shrunk):
        logits = np.asarray(reader.apply(variables, images))
        np.testing.assert_allclose(logits.std(axis=0), code_reader.LOGIT_SCALE, rtol=0.05)
        assert logits.std(axis=1).min() > 1.0  # each image's categories far apart
