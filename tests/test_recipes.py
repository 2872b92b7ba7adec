"""Every recipe in configs/ trains at tiny shapes, and the recipe options reach the step.

The networks are shrunk (32x32, widths 4, batch 4) but every other key of each config file is
kept, so its loss, regularisers, n_critic, optimiser and architecture run as configured.
"""

import importlib

import jax
import numpy as np
import pytest

from gan.models import sampling
from gan.training import train, validation
from tests.test_configs import CONFIG_FILES


def tiny_recipe(name: str):
    """The config of configs/NAME.py with tiny networks and batches."""
    config = importlib.import_module(f"configs.{name}").get_config()
    config.image_size, config.latent_dim, config.ngf, config.ndf, config.batch_size = 32, 8, 4, 4, 4
    validation.validate_config(config)
    return config


def real_batch(config, seed: int = 1) -> dict:
    """Random images in [0, 1] (and classes, for a conditional recipe): one step's worth, a
    batch for each of the n_critic D updates."""
    shape = (config.batch_size * config.n_critic, config.image_size, config.image_size, 3)
    image_key, label_key = jax.random.split(jax.random.PRNGKey(seed))
    batch = {"image": jax.random.uniform(image_key, shape)}
    if config.num_classes:
        batch["label"] = jax.random.randint(label_key, shape[:1], 0, config.num_classes)
    return batch


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_every_config_trains_two_steps(name):
    config = tiny_recipe(name)
    state = train.create_train_state(config, jax.random.PRNGKey(0))
    before = jax.device_get(state.g_params)
    step_fn = jax.jit(train.train_step)
    for step in range(2):
        state, metrics = step_fn(state, real_batch(config, step))
    z, labels = (
        sampling.latent_noise(0, 2, config.latent_dim),
        sampling.cycled_labels(2, config.num_classes),
    )
    images = sampling.generate(state, z, labels)
    assert int(state.step) == 2
    assert all(np.isfinite(float(value)) for value in metrics.values()), metrics
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), before, state.g_params)
    assert all(jax.tree.leaves(changed))
    assert images.shape == (2, 32, 32, 3) and np.all(np.abs(np.asarray(images)) <= 1.0)


@pytest.mark.parametrize(("d_norm", "warned"), [("batch", True), ("layer", False)])
def test_gradient_penalty_with_batchnorm_in_d_is_warned(d_norm, warned, caplog):
    config = tiny_recipe("dcgan")
    config.gp_weight, config.d_norm = 10.0, d_norm
    validation.validate_config(config)
    assert ("BatchNorm breaks" in caplog.text) == warned
