"""InfoGAN's Q reading an image's outlines rather than D's features (`latent_code_view`).

InfoGAN (Chen et al. 2016) makes G use a categorical code by asking a head Q to read the code
back from each fake: G is pushed to draw the codes apart. Which difference G draws is left to
it, and it draws the cheapest one Q can see. With Q on D's features that is the tint of the
background on the embedded data (docs/experiments/default_recipe.md), not the shape. This Q
sees only where the image has edges, at any position and roughly any scale: colour, background
and film grain are gone from its view, position does not change its pooled features and a
random rescaling blurs the size, so the difference left for G to draw is meant to be the
outline. On the embedded data G found another: each code a family of colours with its own
interior texture (dark centres, ragged rims), edges Q reads and D barely penalises
(docs/experiments/default_recipe.md#infogans-q-on-the-outline-alone).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan.models.strided_conv import DownConv

# Standard deviation (px) of the blur before the edges are taken: it removes the film grain,
# whose pixel-to-pixel steps are otherwise as large as a low-contrast object's edge.
VIEW_BLUR_PX = 1.0
# In training, each image is magnified about its centre, before its view is taken, by a
# factor drawn log-uniformly from [1/VIEW_SCALE_JITTER, VIEW_SCALE_JITTER]: about the step
# between the embedded data's neighbouring sizes (9, 12, 15, 18 px), so that the size alone
# no longer tells Q the code.
VIEW_SCALE_JITTER = 1.4
# The name of the random stream the rescaling draws from (`rngs={VIEW_RNG: key}` in `apply`);
# without it no image is magnified (evaluation, initialisation).
VIEW_RNG = "view"
# Units of Q's hidden layer (InfoGAN's 128).
HIDDEN_UNITS = 128
# Q's logits are standardised over the batch, per category, then multiplied by this: a Q that
# reads every code (each category high on an eighth of the batch) is then 99.9% sure, and a Q
# that reads none cannot go flat (see `OutlineCodeReader`).
LOGIT_SCALE = 3.0


def _blur_matrix(size: int) -> jax.Array:
    """(size, size): a Gaussian blur of VIEW_BLUR_PX along one axis (radius 2 sigma) as a
    matrix, the border pixel repeated beyond the edge (so the border makes no edge)."""
    radius = max(1, round(2 * VIEW_BLUR_PX))
    offsets = jnp.arange(-radius, radius + 1)
    taps = jnp.exp(-(offsets**2) / (2 * VIEW_BLUR_PX**2))
    taps /= taps.sum()
    rows = jnp.arange(size)[:, None]
    sources = jnp.clip(rows + offsets, 0, size - 1)
    return jnp.zeros((size, size)).at[jnp.broadcast_to(rows, sources.shape), sources].add(taps)


def _difference_matrix(size: int) -> jax.Array:
    """(size, size): the central difference along one axis, zero on the border rows."""
    inner = jnp.eye(size, k=1) - jnp.eye(size, k=-1)
    return inner.at[jnp.array([0, size - 1])].set(0.0)


def _magnifying_matrices(size: int, scales: jax.Array) -> jax.Array:
    """(N, size, size): bilinear resampling along one axis magnifying by each of `scales` about
    the centre (as `jax.image.scale_and_translate`), the border pixel repeated beyond the edge."""
    centre = size / 2
    sources = (jnp.arange(size) + 0.5 - centre) / scales[:, None] + centre - 0.5
    sources = jnp.clip(sources, 0, size - 1)
    return jax.nn.relu(1 - jnp.abs(sources[..., None] - jnp.arange(size)))


def outline_view(images: jax.Array, scales: jax.Array | None = None) -> jax.Array:
    """The edges of NHWC `images`, one channel in [0, 1]: the gradient magnitude of the blurred
    image over all channels, divided by each image's largest; with `scales`, of each image
    magnified by its own factor about the centre first.

    A shape of any colour on any smooth background (flat, gradient, vignette, glow) becomes the
    same thin outline: the background's slow gradients are small beside the object's edge, and
    dividing by the largest edge removes the object's contrast with its background. Every step
    is linear and separable up to the magnitude, so it is two matrices per axis (smooth: blur
    after magnification; across: difference after both), four matrix products, which XLA on CPU
    runs far faster than depthwise convolutions and image resampling. Unmagnified, every image
    shares the two matrices (a third faster than a copy per image, and the same numbers).
    """
    size = images.shape[1]
    if images.shape[2] != size:
        raise ValueError(f"outline_view takes square images, not {images.shape[1:3]}")
    smooth, spec = _blur_matrix(size), "ij,njkc,lk->nilc"
    if scales is not None:
        smooth = jnp.broadcast_to(smooth, (images.shape[0], size, size))
        smooth, spec = smooth @ _magnifying_matrices(size, scales), "nij,njkc,nlk->nilc"
    across = _difference_matrix(size) @ smooth
    along_columns = jnp.einsum(spec, smooth, images, across)
    along_rows = jnp.einsum(spec, across, images, smooth)
    magnitude = jnp.sqrt(jnp.sum(along_columns**2 + along_rows**2, axis=-1, keepdims=True) + 1e-6)
    return magnitude / magnitude.max(axis=(1, 2, 3), keepdims=True)


class OutlineCodeReader(nn.Module):
    """Q on `outline_view`: three stride-2 convs, pooled over positions (mean and max), an MLP
    to one logit per category. Images in, code logits out, one row per image.

    G and Q start with no code-dependent difference to read, and only a Q whose logits vary
    from image to image gives G a gradient to start drawing its codes apart. A plain Q answers
    an undifferentiated G by going flat: its logits' spread over images fell to 0.03, its
    gradient to G to a twentieth of D's, and its cross-entropy stayed at ln 8 for 1,300 steps
    (He initialisation; with DCGAN's N(0, 0.02) it starts flat). So its logits, less each
    image's mean over the categories (which the softmax ignores), are standardised over the
    batch, per category (`LOGIT_SCALE`): whatever the outlines differ in is amplified into a
    guess, which G is then pushed to make right. (Standardised without removing that mean, Q
    went flat all the same, giving every category of an image the same logit.) The guess is a
    function of the batch; only training reads it.

    Attributes:
      categories: of G's latent code.
      width: channels of the first conv, doubling at each.
      dtype: operands of the convolutions' matrix products.
    """

    categories: int
    width: int = 16
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        scales = None
        if self.has_rng(VIEW_RNG):
            log_scales = jax.random.uniform(self.make_rng(VIEW_RNG), images.shape[:1], minval=-1)
            scales = jnp.exp(log_scales * jnp.log(VIEW_SCALE_JITTER))
        x = outline_view(images.astype(jnp.float32), scales)
        init = nn.initializers.he_normal()
        for stage in range(3):
            x = DownConv(self.width * 2**stage, self.dtype, init, name=f"Conv_{stage}")(x)
            x = nn.leaky_relu(x, negative_slope=0.2)
        pooled = jnp.concatenate([x.mean(axis=(1, 2)), x.max(axis=(1, 2))], axis=-1)
        hidden = nn.leaky_relu(nn.Dense(HIDDEN_UNITS, kernel_init=init)(pooled), 0.2)
        logits = nn.Dense(self.categories, kernel_init=init)(hidden)
        relative = logits - logits.mean(axis=-1, keepdims=True)  # all softmax reads
        return LOGIT_SCALE * jax.nn.standardize(relative, axis=0)
