"""Spectral normalisation of a layer, shared by the DCGAN and ResNet discriminators."""

import flax.linen as nn
import jax


def spectral_normalized(layer: nn.Module, x: jax.Array, train: bool) -> jax.Array:
    """Applies `layer` with its kernel divided by its largest singular value (Miyato et al.).

    A Lipschitz bound on every layer bounds D's, without a penalty term. One power iteration
    per training call refines the singular vector `u`, kept with sigma in `batch_stats`;
    inference reuses the stored estimate.
    """
    return nn.SpectralNorm(layer)(x, update_stats=train)
