"""DCGAN-family image GANs in JAX/Flax: data, models, training, checkpoints and sampling."""
