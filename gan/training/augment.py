"""DiffAugment (Zhao et al. 2020): random, differentiable image transforms applied before D.

With little data, D memorises the training images and stops giving G a useful signal.
Augmenting only the real images would teach G to produce augmented images; DiffAugment instead
transforms both the real and the generated images every time D sees them (in D's and in G's
update), with transforms differentiable in their input so G's gradient flows back through them.

Policies are comma-separated names of `AUGMENTATIONS` applied in order, e.g.
"color,translation,cutout" (the paper's choice with little data). The transforms follow the
authors' reference code on images in [-1, 1], with independent random parameters per image.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gan.errors import UserError

TRANSLATION_RATIO = 0.125  # maximal shift, as a fraction of the side
CUTOUT_RATIO = 0.5  # side of the erased square, as a fraction of the image side


def _uniform(rng: jax.Array, n: int) -> jax.Array:
    return jax.random.uniform(rng, (n, 1, 1, 1))


def color(images: jax.Array, rng: jax.Array) -> jax.Array:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image."""
    n = images.shape[0]
    brightness, saturation, contrast = jax.random.split(rng, 3)
    images = images + (_uniform(brightness, n) - 0.5)
    grey = jnp.mean(images, axis=-1, keepdims=True)
    images = (images - grey) * (_uniform(saturation, n) * 2.0) + grey
    mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * (_uniform(contrast, n) + 0.5) + mean


def translation(images: jax.Array, rng: jax.Array) -> jax.Array:
    """Shifts each image by up to 1/8 of its side in x and y, filling with zeros."""
    n, h, w, c = images.shape
    max_dy, max_dx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy_key, dx_key = jax.random.split(rng)
    dy = jax.random.randint(dy_key, (n,), -max_dy, max_dy + 1)
    dx = jax.random.randint(dx_key, (n,), -max_dx, max_dx + 1)
    padded = jnp.pad(images, ((0, 0), (max_dy, max_dy), (max_dx, max_dx), (0, 0)))

    def shift(image, dy, dx):  # output pixel (i, j) is input pixel (i - dy, j - dx)
        return jax.lax.dynamic_slice(image, (max_dy - dy, max_dx - dx, 0), (h, w, c))

    return jax.vmap(shift)(padded, dy, dx)


def cutout(images: jax.Array, rng: jax.Array) -> jax.Array:
    """Zeroes a square of half the image side at a random centre (clipped at the borders)."""
    n, h, w, _ = images.shape
    size_h, size_w = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    y_key, x_key = jax.random.split(rng)
    top = jax.random.randint(y_key, (n, 1), 0, h + (1 - size_h % 2)) - size_h // 2
    left = jax.random.randint(x_key, (n, 1), 0, w + (1 - size_w % 2)) - size_w // 2
    rows, cols = jnp.arange(h)[None], jnp.arange(w)[None]
    inside_rows = (rows >= top) & (rows < top + size_h)
    inside_cols = (cols >= left) & (cols < left + size_w)
    erased = inside_rows[:, :, None] & inside_cols[:, None, :]
    return images * (~erased)[..., None].astype(images.dtype)


AUGMENTATIONS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """The transform names of a policy string ("" for none).

    Raises:
      UserError: a name that is not in `AUGMENTATIONS`.
    """
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise UserError(
            f"Unknown DiffAugment transform(s) {', '.join(map(repr, unknown))} in "
            f"diffaugment={policy!r}: use comma-separated names from {', '.join(AUGMENTATIONS)}, "
            'e.g. --config.diffaugment="color,translation,cutout", or "" for none.'
        )
    return names


def diff_augment(images: jax.Array, policy: str, rng: jax.Array) -> jax.Array:
    """Applies the transforms of `policy` in order, each with its own key; "" returns `images`.

    Args:
      images: NHWC in [-1, 1].
      policy: comma-separated names of `AUGMENTATIONS`.
      rng: key of this batch's random parameters.

    Returns:
      The augmented batch, differentiable with respect to `images`.
    """
    names = parse_policy(policy)
    for name, key in zip(names, jax.random.split(rng, max(len(names), 1)), strict=False):
        images = AUGMENTATIONS[name](images, key)
    return images
