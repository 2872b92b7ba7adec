"""Constraints on the discriminator (spectral norm, gradient penalties) and the EMA of G.

All of them constrain how fast D can change around the data, which is what keeps a
discriminator from overpowering the generator with arbitrarily steep decision surfaces:

- the WGAN-GP gradient penalty (Gulrajani et al. 2017) pulls the gradient norm towards 1 on
  random interpolates of real and generated images, a soft 1-Lipschitz constraint;
- R1 (Mescheder et al. 2018) pushes the gradient norm towards 0 on real images only, which
  makes training converge locally; StyleGAN2's lazy form applies it every k steps, k x as strong;
  R2, the same on generated images, keeps D flat around G's samples too (R3GAN pairs them).

`d_fn` maps a batch of images to one logit per input it scores: per image, or per pack of
consecutive images for a packing D (PacGAN), whose input is the whole pack. The penalties
differentiate the summed logits, which gives each input's own gradient only when inputs do not
interact inside D: use them with a D without BatchNorm (`d_norm='layer'` or `'none'`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

DiscriminatorFn = Callable[[jax.Array], jax.Array]


def inputs_per_batch(d_fn: DiscriminatorFn, images: jax.Array) -> int:
    """How many inputs D scores in `images`: the batch size, or the number of packs."""
    return jax.eval_shape(d_fn, images).shape[0]


def squared_input_gradient_norms(d_fn: DiscriminatorFn, images: jax.Array) -> jax.Array:
    """||dD(x)/dx||^2 for every input D scores (an image, or a pack of consecutive images),
    shape (number of logits,)."""
    grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(images)
    per_input = grads.reshape(inputs_per_batch(d_fn, images), -1)
    return jnp.sum(jnp.square(per_input), axis=1)


def gradient_penalty(
    d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array, rng: jax.Array
) -> jax.Array:
    """WGAN-GP's E[(||grad D(x_hat)|| - 1)^2], x_hat uniform on the segments real-fake.

    Args:
      d_fn: images -> logits, differentiable in the images.
      real: a batch of real images.
      fake: a batch of generated images, the same shape.
      rng: draws the interpolation fraction of each pair.

    Returns:
      The penalty, a scalar (not yet multiplied by its weight lambda).
    """
    inputs = inputs_per_batch(d_fn, real)
    fraction = jax.random.uniform(rng, (inputs,) + (1,) * (real.ndim - 1))
    # One fraction per input D scores: a pack's images move together along its segment.
    fraction = jnp.repeat(fraction, real.shape[0] // inputs, axis=0)
    interpolates = fraction * real + (1.0 - fraction) * fake
    # The tiny offset keeps the square root differentiable where a gradient vanishes exactly.
    norms = jnp.sqrt(squared_input_gradient_norms(d_fn, interpolates) + 1e-12)
    return jnp.mean(jnp.square(norms - 1.0))


def r1_penalty(d_fn: DiscriminatorFn, images: jax.Array) -> jax.Array:
    """R1's E[||grad D(x)||^2] on real images (not yet multiplied by gamma / 2); on generated
    images it is R2 (Mescheder et al. 2018, paired with R1 in Huang et al. 2024)."""
    return jnp.mean(squared_input_gradient_norms(d_fn, images))


def ema_update(ema_params, params, decay: float, step: jax.Array):
    """Update `step` (0 for the first) of the exponential moving average of the weights:
    d * ema + (1 - d) * params, with d = min(decay, (1 + step) / (10 + step)).

    The warm-up is TF's `ExponentialMovingAverage(num_updates=step)`: early on the average
    spans about the last step / 9 updates, so in a short run it is not dominated by the
    initial weights (with decay 0.999 and no warm-up they would still weigh 61% after 500
    steps); d reaches `decay` = 0.999 at step 8,990.
    """
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema_params, params)
