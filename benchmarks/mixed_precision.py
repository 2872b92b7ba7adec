"""What bfloat16 operands change in the train step's gradients, against float32.

    python -m benchmarks.mixed_precision --config=configs/dcgan.py

From one state (DCGAN initialisation, then `--steps` float32 train steps on random batches, so
that the networks are not at their symmetric starting point) and one batch of real images and
noise, the script computes both networks' gradients with `compute_dtype` float32 and bfloat16:
D's gradient of its loss on the real and generated batch, and G's gradient of its loss through
D. It prints the relative error ||g_bf16 - g_fp32|| / ||g_fp32|| and the cosine similarity of
each network's whole gradient, and of its worst layer.

Why gradients and not trajectories: GAN training is chaotic, so two runs whose first updates
differ in the last float32 bit drift apart within a few hundred steps (reordering a float32 sum
does that already); whether bf16 hurts training shows in what a run learns, not in its path.
"""

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from gan import parallel
from gan.cli import entry_point, parse_flags
from gan.models import create_models
from gan.training import losses, train, validation

config_flags.DEFINE_config_file(
    "config", "configs/dcgan.py", "Config file of the model to compare.", lock_config=True
)
flags.DEFINE_integer("steps", 20, "float32 train steps before the comparison.", lower_bound=0)
FLAGS = flags.FLAGS


def trained_state(config, rng: np.random.Generator) -> train.TrainState:
    """A float32 state after `--steps` train steps on random batches."""
    config = config.copy_and_resolve_references()
    config.compute_dtype = "float32"
    mesh = parallel.create_mesh()
    state = train.create_sharded_state(config, mesh)
    step_fn = train.jit_train_step(mesh, parallel.shardings_of(state))
    shape = (config.batch_size, config.image_size, config.image_size, config.num_channels)
    for _ in range(FLAGS.steps):
        batch = {"image": rng.random(shape, np.float32)}
        state, _ = step_fn(state, parallel.global_batch(batch, mesh))
    return state


@jax.jit
def gradients(state: train.TrainState, real: jax.Array, z: jax.Array) -> tuple:
    """D's and G's gradients (non-saturating loss), both networks in training mode."""
    loss = losses.get_loss("non_saturating", 0.0)
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}

    def fake_images(g_params):
        variables = {**g_vars, "params": g_params}
        return state.generator.apply(variables, z, train=True, mutable=["batch_stats"])[0]

    def logits(d_params, images):
        variables = {"params": d_params, "batch_stats": state.d_batch_stats}
        return state.discriminator.apply(variables, images, train=True, mutable=["batch_stats"])[0]

    fake = fake_images(state.g_params)
    d_grad = jax.grad(lambda p: loss.discriminator(logits(p, real), logits(p, fake)))(
        state.d_params
    )
    g_grad = jax.grad(lambda p: loss.generator(logits(state.d_params, fake_images(p))))(
        state.g_params
    )
    return d_grad, g_grad


def compare(name: str, ours, reference) -> float:
    """Prints relative error and cosine similarity, whole network and worst layer; returns the
    relative error."""
    flat_ours, flat_ref = jax.tree.leaves(ours), jax.tree.leaves(reference)
    vector = lambda leaves: jnp.concatenate([x.ravel() for x in leaves])  # noqa: E731
    a, b = vector(flat_ours), vector(flat_ref)
    error = float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))
    cosine = float(a @ b / (jnp.linalg.norm(a) * jnp.linalg.norm(b)))
    worst = max(
        float(jnp.linalg.norm(x - y) / jnp.linalg.norm(y))
        for x, y in zip(flat_ours, flat_ref, strict=True)
        if float(jnp.linalg.norm(y)) > 0
    )
    print(f"{name}: relative error {error:.2e}, cosine {cosine:.6f}, worst layer {worst:.2e}")
    return error


@entry_point
def main(argv):
    config = FLAGS.config
    validation.validate_config(config)
    rng = np.random.default_rng(config.seed)
    state = jax.device_get(trained_state(config, rng))
    shape = (config.batch_size, config.image_size, config.image_size, config.num_channels)
    real = jnp.asarray(rng.random(shape, np.float32)) * 2 - 1
    z = jnp.asarray(rng.normal(size=(config.batch_size, config.latent_dim)), jnp.float32)
    grads = {}
    for dtype in ("float32", "bfloat16"):
        config.compute_dtype = dtype
        generator, discriminator = create_models(config)
        grads[dtype] = gradients(
            state.replace(generator=generator, discriminator=discriminator), real, z
        )
    print(f"bfloat16 vs float32 gradients after {FLAGS.steps} float32 steps:")
    d_error = compare("D", grads["bfloat16"][0], grads["float32"][0])
    g_error = compare("G", grads["bfloat16"][1], grads["float32"][1])
    print(f"d_grad_error={d_error:.2e} g_grad_error={g_error:.2e}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
