"""The train state, the jitted D-then-G train step, and the loop that runs, logs and saves it.

Data flow: config -> `data.pipeline` batches -> `train_step` on a device mesh -> metrics to
`progress.TrainingTrace`, fixed-noise sample grids to PNG/TensorBoard, and `checkpointing`.
"""

import functools
import pathlib
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from absl import logging
from clu import metric_writers

from gan import checkpointing, images, losses, parallel, progress, validation
from gan.data import pipeline
from gan.models import Discriminator, Generator, create_models

NUM_GRID_SAMPLES = 64  # images in the fixed-noise sample grid (8 x 8)


@flax.struct.dataclass
class TrainState:
    """Everything a step reads and writes. Networks and optimizers are static (not arrays)."""

    step: jax.Array
    rng: jax.Array
    g_params: Any
    g_batch_stats: Any
    g_opt_state: optax.OptState
    d_params: Any
    d_batch_stats: Any
    d_opt_state: optax.OptState
    generator: Generator = flax.struct.field(pytree_node=False)
    discriminator: Discriminator = flax.struct.field(pytree_node=False)
    g_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
    d_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)


def create_optimizer(config) -> optax.GradientTransformation:
    """Adam with DCGAN's beta1 = 0.5: a shorter momentum memory keeps the two players stable."""
    return optax.adam(config.learning_rate, b1=config.beta1, b2=0.999)


def create_train_state(config, rng: jax.Array) -> TrainState:
    """Initialises both networks (DCGAN init) and their optimizers from `rng`."""
    generator, discriminator = create_models(config)
    g_key, d_key, train_key = jax.random.split(rng, 3)
    z = jnp.zeros((1, config.latent_dim))
    x = jnp.zeros((1, config.image_size, config.image_size, config.num_channels))
    g_vars = generator.init(g_key, z, train=False)
    d_vars = discriminator.init(d_key, x, train=False)
    g_tx, d_tx = create_optimizer(config), create_optimizer(config)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=train_key,
        g_params=g_vars["params"],
        g_batch_stats=g_vars["batch_stats"],
        g_opt_state=g_tx.init(g_vars["params"]),
        d_params=d_vars["params"],
        d_batch_stats=d_vars["batch_stats"],
        d_opt_state=d_tx.init(d_vars["params"]),
        generator=generator,
        discriminator=discriminator,
        g_tx=g_tx,
        d_tx=d_tx,
    )


def create_sharded_state(config, mesh) -> TrainState:
    """Initialises the state directly into replicated device memory."""
    init = jax.jit(
        functools.partial(create_train_state, config), out_shardings=parallel.replicated(mesh)
    )
    return init(jax.random.PRNGKey(config.seed))


def latent_noise(seed: int, num: int, latent_dim: int) -> jax.Array:
    """Standard normal z vectors, a pure function of `seed`."""
    return jax.random.normal(jax.random.PRNGKey(seed), (num, latent_dim))


@jax.jit
def generate(state: TrainState, z: jax.Array) -> jax.Array:
    """Images in [-1, 1] from the generator in inference mode (BatchNorm running averages)."""
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    return state.generator.apply(variables, z, train=False)


def train_step(state: TrainState, real_images: jax.Array) -> tuple[TrainState, dict]:
    """One discriminator update, then one generator update, on the same generated batch.

    As in PyTorch's DCGAN, G runs forward once: its VJP, kept from the D update, turns the
    gradient of the G loss with respect to the fake images into parameter gradients. D sees
    real and fake images in separate forward passes, so its BatchNorm statistics are per batch.

    Args:
      state: the train state (donated: its buffers are reused for the output).
      real_images: float32 NHWC in [0, 1], sharded along the batch.

    Returns:
      The new state and this step's scalar metrics (device arrays).
    """
    real = real_images * 2.0 - 1.0  # the generator's tanh range
    rng = jax.random.fold_in(state.rng, state.step)
    z = jax.random.normal(rng, (real.shape[0], state.generator.latent_dim))

    def generate_train(g_params):
        fake, updates = state.generator.apply(
            {"params": g_params, "batch_stats": state.g_batch_stats},
            z,
            train=True,
            mutable=["batch_stats"],
        )
        return fake, updates["batch_stats"]

    fake, generator_vjp, g_batch_stats = jax.vjp(generate_train, state.g_params, has_aux=True)

    def d_loss_fn(d_params):
        real_logits, stats = _apply_discriminator(state, d_params, state.d_batch_stats, real)
        fake_logits, stats = _apply_discriminator(state, d_params, stats, fake)
        loss = losses.discriminator_loss(real_logits, fake_logits)
        return loss, (stats, real_logits, fake_logits)

    (d_loss, (d_batch_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True
    )(state.d_params)
    d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    def g_loss_fn(fake_images):
        logits, stats = _apply_discriminator(state, d_params, d_batch_stats, fake_images)
        return losses.generator_loss(logits), stats

    (g_loss, d_batch_stats), fake_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    (g_grads,) = generator_vjp(fake_grads)
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)

    new_state = state.replace(
        step=state.step + 1,
        g_params=optax.apply_updates(state.g_params, g_updates),
        g_batch_stats=g_batch_stats,
        g_opt_state=g_opt_state,
        d_params=d_params,
        d_batch_stats=d_batch_stats,
        d_opt_state=d_opt_state,
    )
    metrics = {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "g_grad_norm": optax.global_norm(g_grads),
        "d_grad_norm": optax.global_norm(d_grads),
        **losses.discriminator_statistics(real_logits, fake_logits),
    }
    return new_state, metrics


def jit_train_step(mesh):
    """`train_step` compiled for `mesh`: state replicated and donated, batch split over 'data'."""
    return jax.jit(
        train_step,
        donate_argnums=0,
        in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
        out_shardings=parallel.replicated(mesh),
    )


def _apply_discriminator(state: TrainState, d_params, batch_stats, images):
    """D in training mode: logits and the BatchNorm statistics updated by this batch."""
    logits, updates = state.discriminator.apply(
        {"params": d_params, "batch_stats": batch_stats},
        images,
        train=True,
        mutable=["batch_stats"],
    )
    return logits, updates["batch_stats"]


def num_train_steps(config, steps_per_epoch: int) -> int:
    """The step training ends at: `num_train_steps` when set, else whole epochs."""
    if config.num_train_steps > 0:
        return config.num_train_steps
    return config.num_epochs * steps_per_epoch


def create_writer(workdir: pathlib.Path) -> metric_writers.MetricWriter:
    """TensorBoard event files in the workdir, written from process 0 only."""
    if jax.process_index() > 0:
        return metric_writers.MultiWriter([])
    return metric_writers.AsyncWriter(metric_writers.SummaryWriter(str(workdir)))


def write_run_description(config, workdir: pathlib.Path, writer) -> None:
    """Saves the config as WORKDIR/config.json (read back by `gan.sample`) and as hparams."""
    if jax.process_index() == 0:
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")
    writer.write_hparams({k: v for k, v in config.items() if v is not None})


def write_sample_grid(
    state: TrainState, z: jax.Array, step: int, workdir: pathlib.Path, writer
) -> None:
    """Renders the fixed-noise grid to WORKDIR/samples/step_NNNNNNN.png and TensorBoard."""
    grid = images.make_grid(images.to_uint8(jax.device_get(generate(state, z))))
    if jax.process_index() == 0:
        images.save_png(grid, workdir / "samples" / f"step_{step:07d}.png")
    writer.write_images(step, {"samples": grid[None]})


def train_and_evaluate(config, workdir: str) -> TrainState:
    """Trains (or resumes training) until the configured step, writing everything to `workdir`.

    Args:
      config: a ConfigDict with the keys of `configs/dcgan.py`.
      workdir: directory for checkpoints, samples, trace.csv, TensorBoard logs and config.json.

    Returns:
      The final train state.

    Raises:
      UserError: a bad config, unwritable workdir, unknown or missing dataset, incompatible
        checkpoint, or a diverged (NaN/inf) loss.
    """
    validation.validate_config(config)
    workdir = validation.prepare_workdir(workdir)
    mesh = parallel.create_mesh()
    manager = checkpointing.create_manager(workdir, config)
    resume_step = manager.latest_step()
    if resume_step is not None:  # refuse a mismatched checkpoint before any data work
        checkpointing.check_compatible(manager, config, resume_step)
    data = pipeline.prepare(config)
    last_step = num_train_steps(config, data.steps_per_epoch)
    state = create_sharded_state(config, mesh)
    if resume_step is not None:
        logging.info("Resuming from the checkpoint at step %d.", resume_step)
        checkpointing.warn_if_data_changed(manager, resume_step, data.source.num_examples)
        state = checkpointing.restore(manager, state, resume_step)
    start_step = int(jax.device_get(state.step))
    writer = create_writer(workdir)
    write_run_description(config, workdir, writer)
    logging.info(
        "%s: %d training images on this process (%s), %d steps per epoch; steps %d to %d.",
        config.dataset,
        data.source.num_examples,
        "cached in memory" if data.cached is not None else "streamed",
        data.steps_per_epoch,
        start_step + 1,
        last_step,
    )
    trace = progress.TrainingTrace(
        writer,
        workdir,
        last_step,
        data.steps_per_epoch,
        config.batch_size,
        start_step,
        is_chief=jax.process_index() == 0,
    )
    step_fn = jit_train_step(mesh)
    grid_noise = latent_noise(config.seed, NUM_GRID_SAMPLES, config.latent_dim)
    batches = pipeline.train_batches(data, config, start_step)
    loop_start = time.perf_counter()
    try:
        with metric_writers.ensure_flushes(writer):
            for step in range(start_step + 1, last_step + 1):
                state, metrics = step_fn(state, parallel.global_batch(next(batches), mesh))
                trace.record(metrics)
                if step == start_step + 1:
                    _log_first_step(metrics, trace, step, loop_start)
                if step % config.log_every_steps == 0 or step % data.steps_per_epoch == 0:
                    trace.report(step)
                if step % config.sample_every_steps == 0 or step == last_step:
                    write_sample_grid(state, grid_noise, step, workdir, writer)
                if step % config.checkpoint_every_steps == 0 or step == last_step:
                    trace.report(step)  # refuses to save a state that came from a NaN loss
                    epoch, batch = divmod(step, data.steps_per_epoch)
                    position = checkpointing.DataPosition(epoch, batch, data.source.num_examples)
                    checkpointing.save(manager, step, state, config, position)
    finally:
        manager.wait_until_finished()
    return state


def _log_first_step(metrics, trace: progress.TrainingTrace, step: int, started: float) -> None:
    """Waits once for the first step, so compilation stays out of the throughput figures."""
    jax.block_until_ready(metrics)
    logging.info("First step (compilation included) took %.1f s.", time.perf_counter() - started)
    trace.restart_clock(step)
