"""GAN objectives on discriminator outputs, chosen by name, and the statistics of a D/G contest.

Losses take logits (raw D outputs), never probabilities: `softplus(-l)` is `-log sigmoid(l)`
without the overflow and the `log(0)` that a sigmoid followed by a log meets on confident
logits. `config.loss` selects one of `LOSSES`:

| name | D minimises | G minimises | paper |
|---|---|---|---|
| `non_saturating` | BCE(D(x), 1) + BCE(D(G(z)), 0) | -log D(G(z)) | Goodfellow et al. 2014 |
| `minimax` | the same | log(1 - D(G(z))) | Goodfellow et al. 2014 |
| `hinge` | relu(1 - D(x)) + relu(1 + D(G(z))) | -D(G(z)) | Lim & Ye 2017, Miyato et al. 2018 |
| `wgan_gp` | D(G(z)) - D(x), plus `gp_weight` x penalty | -D(G(z)) | Gulrajani et al. 2017 |
| `lsgan` | (D(x) - 1)^2 / 2 + D(G(z))^2 / 2 | (D(G(z)) - 1)^2 / 2 | Mao et al. 2017 |
| `relativistic` | softplus(D(G(z)) - D(x)) | softplus(D(x) - D(G(z))) | Huang et al. 2024 (RpGAN) |

The relativistic pairing loss scores each generated image against the real image of the same
batch position, so G's loss reads D's outputs on real images too (`GanLoss.generator_reads_real`).
Each term is averaged over its batch and D's two terms are summed, as PyTorch's DCGAN does, so
loss values compare directly with other code bases.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from gan.errors import UserError

LossFn = Callable[..., jax.Array]


def discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, label_smoothing: float = 0.0
) -> jax.Array:
    """Binary cross-entropy of D with label 1 for real and 0 for generated images.

    Args:
      real_logits: D's logits on real images.
      fake_logits: D's logits on generated images.
      label_smoothing: one-sided smoothing (Salimans et al. 2016): real images get the target
        1 - label_smoothing, generated ones keep 0, so D is not pushed to infinite confidence.

    Returns:
      `BCE(D(x), 1 - label_smoothing) + BCE(D(G(z)), 0)`, each averaged over its batch.
    """
    real_term = jax.nn.softplus(-real_logits)
    if label_smoothing:
        real_term = (1.0 - label_smoothing) * real_term + label_smoothing * jax.nn.softplus(
            real_logits
        )
    return jnp.mean(real_term) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Non-saturating generator loss, -log D(G(z)) (Goodfellow et al. 2014, section 3).

    Minimising log(1 - D(G(z))) instead gives vanishing gradients while D wins early on.
    """
    return jnp.mean(jax.nn.softplus(-fake_logits))


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """The original zero-sum generator loss, log(1 - D(G(z))) = -softplus(logit)."""
    return -jnp.mean(jax.nn.softplus(fake_logits))


def hinge_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Hinge loss: D is only pushed until real logits exceed 1 and fake ones fall below -1."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def wasserstein_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """The critic's estimate of -W(real, fake), E[D(G(z))] - E[D(x)]; needs a Lipschitz D."""
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def critic_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """-E[D(G(z))]: the generator loss of both the hinge and the Wasserstein objective."""
    return -jnp.mean(fake_logits)


def least_squares_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """LSGAN with targets 1 for real and 0 for generated images (a=0, b=c=1 in Mao et al.)."""
    return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_logits))


def least_squares_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """LSGAN's generator loss: pull D(G(z)) towards the real target 1."""
    return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


def relativistic_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Relativistic pairing (RpGAN): D is asked that each real image score above the generated
    image paired with it, -log sigmoid(D(x) - D(G(z))), not that either cross a fixed line.

    Huang et al. 2024 (R3GAN) show this objective has no local optima where G drops modes of
    the data, which the cross-entropy loss has: every generated image is compared with a real
    one, so a region of the data G never draws keeps pulling on it.
    """
    return jnp.mean(jax.nn.softplus(fake_logits - real_logits))


def relativistic_generator_loss(fake_logits: jax.Array, real_logits: jax.Array) -> jax.Array:
    """RpGAN's generator loss, -log sigmoid(D(G(z)) - D(x)), against D's outputs on the real
    images paired with the fakes (constants for G)."""
    return jnp.mean(jax.nn.softplus(real_logits - fake_logits))


@dataclasses.dataclass(frozen=True)
class GanLoss:
    """A pair of objectives, `discriminator(real_logits, fake_logits)` and
    `generator(fake_logits)` (`generator(fake_logits, real_logits)` where it reads real images),
    and how to read D's raw outputs under them.

    Attributes:
      discriminator: D's loss.
      generator: G's loss.
      boundary: the raw output between D's real and generated targets, where it calls an image
        real: logit 0 for the cross-entropy losses and the hinge, 0.5 between LSGAN's targets
        0 and 1; None for the Wasserstein critic and the relativistic loss, whose scores have
        no fixed origin, so their boundary is the midpoint of the batch's mean real and mean
        generated scores.
      logits: D outputs logits, reported as probabilities; otherwise as they are.
      generator_reads_real: G's loss also takes D's outputs on real images (paired with the
        fakes, batch position by batch position).
    """

    discriminator: LossFn
    generator: LossFn
    boundary: float | None = 0.0
    logits: bool = True
    generator_reads_real: bool = False

    def statistics(self, real_logits: jax.Array, fake_logits: jax.Array) -> dict[str, jax.Array]:
        """`discriminator_statistics` under this objective's boundary and output scale."""
        return discriminator_statistics(real_logits, fake_logits, self.boundary, self.logits)


LOSSES = {
    "non_saturating": GanLoss(discriminator_loss, generator_loss),
    "minimax": GanLoss(discriminator_loss, minimax_generator_loss),
    "hinge": GanLoss(hinge_discriminator_loss, critic_generator_loss, logits=False),
    "wgan_gp": GanLoss(
        wasserstein_discriminator_loss, critic_generator_loss, boundary=None, logits=False
    ),
    "lsgan": GanLoss(
        least_squares_discriminator_loss, least_squares_generator_loss, boundary=0.5, logits=False
    ),
    "relativistic": GanLoss(
        relativistic_discriminator_loss,
        relativistic_generator_loss,
        boundary=None,
        logits=False,
        generator_reads_real=True,
    ),
}
# The losses built on binary cross-entropy, the only ones where label smoothing has a meaning.
SMOOTHABLE_LOSSES = ("non_saturating", "minimax")


def get_loss(name: str, label_smoothing: float = 0.0) -> GanLoss:
    """The objective called `name` in `LOSSES`, with one-sided label smoothing where it applies.

    Raises:
      UserError: an unknown name, or label smoothing asked of a loss without labels.
    """
    if name not in LOSSES:
        raise UserError(
            f"Unknown loss {name!r}: use one of {', '.join(LOSSES)} (--config.loss=NAME)."
        )
    if label_smoothing and name not in SMOOTHABLE_LOSSES:
        raise UserError(
            f"label_smoothing={label_smoothing} has no meaning for the {name!r} loss, which has "
            f"no labels: use it with {' or '.join(SMOOTHABLE_LOSSES)}, or set "
            "--config.label_smoothing=0."
        )
    loss = LOSSES[name]
    if not label_smoothing:
        return loss
    smoothed = functools.partial(loss.discriminator, label_smoothing=label_smoothing)
    return dataclasses.replace(loss, discriminator=smoothed)


def discriminator_statistics(
    real_logits: jax.Array,
    fake_logits: jax.Array,
    boundary: float | None = 0.0,
    logits: bool = True,
) -> dict[str, jax.Array]:
    """How well D separates real from generated images.

    Args:
      real_logits: D's raw outputs on real images.
      fake_logits: D's raw outputs on generated images.
      boundary: where D calls an image real (see `GanLoss.boundary`); None: the midpoint of
        the two batch means.
      logits: report D(x) as probabilities (sigmoid of the logits); otherwise raw.

    Returns:
      `d_acc_real` / `d_acc_fake`: fraction of real images above the boundary and of generated
      images below it; `d_real` / `d_fake`: mean D(x) and mean D(G(z)).
    """
    if boundary is None:
        boundary = (jnp.mean(real_logits) + jnp.mean(fake_logits)) / 2
    report = jax.nn.sigmoid if logits else (lambda x: x)
    return {
        "d_acc_real": jnp.mean(real_logits > boundary),
        "d_acc_fake": jnp.mean(fake_logits < boundary),
        "d_real": jnp.mean(report(real_logits)),
        "d_fake": jnp.mean(report(fake_logits)),
    }
