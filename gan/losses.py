"""GAN objectives on discriminator logits, and the statistics that describe a D/G contest.

Losses take logits, never probabilities: `softplus(-l)` is `-log sigmoid(l)` without the
overflow and the `log(0)` that a sigmoid followed by a log meets on confident logits.
"""

import jax
import jax.numpy as jnp


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Binary cross-entropy of D with label 1 for real and 0 for generated images.

    Summed over the two halves, each averaged over its batch, as PyTorch's DCGAN does
    (`BCE(D(x), 1) + BCE(D(G(z)), 0)`), so loss values compare directly.
    """
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Non-saturating generator loss, -log D(G(z)) (Goodfellow et al. 2014, section 3).

    Minimising log(1 - D(G(z))) instead gives vanishing gradients while D wins early on.
    """
    return jnp.mean(jax.nn.softplus(-fake_logits))


def discriminator_statistics(
    real_logits: jax.Array, fake_logits: jax.Array
) -> dict[str, jax.Array]:
    """How well D separates real from generated images.

    Returns:
      `d_acc_real` / `d_acc_fake`: fraction of real images with logit > 0 and of generated
      images with logit < 0 (D's decision threshold is probability 1/2); `d_real` / `d_fake`:
      mean D(x) and mean D(G(z)) as probabilities.
    """
    return {
        "d_acc_real": jnp.mean(real_logits > 0),
        "d_acc_fake": jnp.mean(fake_logits < 0),
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
