"""The train state, the jitted D-then-G train step, and the loop that runs, logs and saves it.

Data flow: config -> `data.pipeline` batches -> `train_step` on a device mesh -> metrics to
`progress.TrainingTrace`, fixed-noise sample grids to PNG/TensorBoard, and `checkpointing`.
"""

import contextlib
import dataclasses
import functools
import pathlib
import signal
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from clu import metric_writers

from gan import images, models, parallel
from gan.data import pipeline
from gan.errors import UserError
from gan.models import code_reader, create_models, outline_clusters, sampling
from gan.models.dcgan import Discriminator, Generator
from gan.training import (
    augment,
    checkpointing,
    losses,
    periodic_evaluation,
    preemption,
    progress,
    regularizers,
    validation,
    workdir_lock,
)

NUM_GRID_SAMPLES = 64  # images in the fixed-noise sample grid (8 x 8)


@dataclasses.dataclass(frozen=True)
class StepOptions:
    """The recipe a train step follows, from the config keys of the same names.

    Static (part of the compiled program): changing one recompiles the step. The defaults are
    the DCGAN recipe, so a config.json written before a key existed reads back unchanged.
    """

    loss: str = "non_saturating"  # a name in `losses.LOSSES`
    label_smoothing: float = 0.0  # one-sided: real targets 1 - label_smoothing
    n_critic: int = 1  # D updates per G update, each on its own real batch
    gp_weight: float = 0.0  # lambda of the WGAN-GP gradient penalty; 0 disables it
    r1_gamma: float = 0.0  # gamma of the R1 penalty (gamma / 2 * E||grad D(x)||^2); 0 disables
    r1_interval: int = 1  # lazy R1: applied every r1_interval steps, r1_interval x as strong
    r1_gamma_final: float = -1.0  # gamma at num_train_steps (cosine_anneal); -1: r1_gamma always
    r2_penalty: bool = False  # R1's penalty, weight and schedule also on generated images (R2)
    num_train_steps: int = -1  # where the annealed gamma ends (-1: derived from epochs)
    ema_decay: float = 0.0  # decay of the EMA of G's weights; 0 keeps no EMA
    diffaugment: str = ""  # DiffAugment policy, e.g. "color,translation,cutout"; "" disables
    latent_codes: int = 0  # categories of G's categorical latent code; 0: none
    latent_code_weight: float = 0.0  # lambda of InfoGAN's mutual-information term; 0: none
    self_conditioning_clusters: int = 0  # D's feature clusters as classes; 0: none

    @classmethod
    def from_config(cls, config) -> "StepOptions":
        return cls(**{f.name: config.get(f.name, f.default) for f in dataclasses.fields(cls)})


@flax.struct.dataclass
class TrainState:
    """Everything a step reads and writes. Networks, optimizers and options are static.

    `g_ema_params` is the exponential moving average of `g_params` (Karras et al. 2018, Yazici
    et al. 2019), which samples better than the weights of any single step; None when
    `ema_decay` is 0. Sampling and sample grids use it when present (`gan.models.sampling`).
    """

    step: jax.Array
    rng: jax.Array
    g_params: Any
    g_batch_stats: Any
    g_opt_state: optax.OptState
    d_params: Any
    d_batch_stats: Any
    d_opt_state: optax.OptState
    g_ema_params: Any
    generator: Generator = flax.struct.field(pytree_node=False)
    discriminator: Discriminator = flax.struct.field(pytree_node=False)
    g_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
    d_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
    options: StepOptions = flax.struct.field(pytree_node=False)


def cosine_anneal(step, total_steps: int, start: float, end: float):
    """`start` at step 0 to `end` at `total_steps` along half a cosine, then `end` (R3GAN's
    schedule, Huang et al. 2024). Works on Python numbers and traced steps alike."""
    progress = jnp.minimum(step / total_steps, 1.0)
    return end + (start - end) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))


def create_optimizer(
    config, learning_rate: float, updates_per_step: int = 1
) -> optax.GradientTransformation:
    """Adam with DCGAN's beta1 = 0.5: a shorter momentum memory keeps the two players stable.

    WGAN-GP and SNGAN use beta1 = 0, beta2 = 0.9 (`config.beta2`, 0.999 by default). With
    `learning_rate_decay` < 1 the rate anneals to that fraction of itself at `num_train_steps`
    (`cosine_anneal`); `updates_per_step` (D's `n_critic`) converts steps to optimizer updates.
    """
    decay = config.get("learning_rate_decay", 1.0)
    if decay != 1.0:
        total_updates = config.num_train_steps * updates_per_step
        start = learning_rate
        learning_rate = lambda count: cosine_anneal(  # noqa: E731
            count, total_updates, start, start * decay
        )
    return optax.adam(learning_rate, b1=config.beta1, b2=config.get("beta2", 0.999))


def create_optimizers(config) -> tuple[optax.GradientTransformation, ...]:
    """G's and D's optimizers: D's learning rate may differ (TTUR, Heusel et al. 2017)."""
    d_learning_rate = config.get("d_learning_rate", -1.0)
    if d_learning_rate <= 0:  # the sentinel -1: D learns at G's rate
        d_learning_rate = config.learning_rate
    return create_optimizer(config, config.learning_rate), create_optimizer(
        config, d_learning_rate, config.get("n_critic", 1)
    )


def create_train_state(config, rng: jax.Array) -> TrainState:
    """Initialises both networks (DCGAN init) and their optimizers from `rng`."""
    generator, discriminator = create_models(config)
    g_key, d_key, train_key = jax.random.split(rng, 3)
    z = jnp.zeros((1, config.latent_dim))
    # One input of D: a pack of d_packing images.
    x = jnp.zeros(
        (config.get("d_packing", 1), config.image_size, config.image_size, config.num_channels)
    )
    labels = jnp.zeros((1,), jnp.int32)
    g_labels = labels if models.generator_classes(config) else None
    d_labels = labels if models.discriminator_classes(config) else None
    g_vars = generator.init(g_key, z, train=False, **sampling.class_labels(g_labels))
    d_vars = discriminator.init(d_key, x, train=False, **sampling.class_labels(d_labels))
    g_tx, d_tx = create_optimizers(config)
    options = StepOptions.from_config(config)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=train_key,
        g_params=g_vars["params"],
        g_batch_stats=g_vars["batch_stats"],
        g_opt_state=g_tx.init(g_vars["params"]),
        d_params=d_vars["params"],
        d_batch_stats=d_vars.get("batch_stats", {}),  # none without BatchNorm/spectral norm
        d_opt_state=d_tx.init(d_vars["params"]),
        g_ema_params=jax.tree.map(jnp.copy, g_vars["params"]) if options.ema_decay else None,
        generator=generator,
        discriminator=discriminator,
        g_tx=g_tx,
        d_tx=d_tx,
        options=options,
    )


def create_sharded_state(config, mesh) -> TrainState:
    """Initialises the state directly into device memory, placed as `config.state_sharding` says.

    Each array is created where it lives, so a sharded state never exists whole on one device.
    Runs saved before the key existed have no `state_sharding` in their config.json; their
    state was replicated.
    """

    @jax.jit
    def init():
        state = create_train_state(config, jax.random.PRNGKey(config.seed))
        sharding = parallel.state_sharding(
            state,
            mesh,
            config.get("state_sharding", "replicated"),
            config.get("fsdp_min_size_mb", 0.0),
        )
        return jax.lax.with_sharding_constraint(state, sharding)

    state = init()
    total_mib, device_mib = parallel.memory_mib(state)
    logging.info("Train state: %.2f MiB, at most %.2f MiB on one device.", total_mib, device_mib)
    return state


def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    """`n_critic` discriminator updates, then one generator update (`state.options` says how).

    As in PyTorch's DCGAN, G runs forward once for the last D update and the G update: its VJP,
    kept from the D update, turns the gradient of the G loss with respect to the fake images
    into parameter gradients. D sees real and fake images in separate forward passes, so its
    BatchNorm statistics are per batch. With `n_critic` > 1 the batch holds `n_critic` real
    batches (`pipeline.local_batch_size`): each D update reads its own, with fresh noise.

    A class-conditional model (`num_classes` > 0) generates each D update's fakes with the
    classes of its real batch, so G's classes follow the data's, and D scores every image
    with its class (real and generated alike). A self-conditioned one does the same with the
    clusters D assigns the real images to (`gan.models.self_conditioning`). With
    `latent_codes` G draws each fake from a uniformly random code instead, which D never sees;
    with `latent_code_weight` D's head Q predicts it, and G and Q both minimise the weighted
    cross-entropy of Q's prediction (InfoGAN's bound on the code's mutual information with the
    image).

    Args:
      state: the train state (donated: its buffers are reused for the output).
      batch: "image", float32 NHWC in [0, 1], and for a conditional model "label", int32;
        sharded along the batch.

    Returns:
      The new state and this step's scalar metrics (device arrays).
    """
    options = state.options
    loss = losses.get_loss(options.loss, options.label_smoothing)
    real = batch["image"] * 2.0 - 1.0  # the generator's tanh range
    labels = batch.get("label")  # None for an unconditional model
    rng = jax.random.fold_in(state.rng, state.step)
    # Keys of the extra critic updates, of each D update's augmentation/penalty, of G's view.
    keys = jax.random.split(jax.random.fold_in(rng, 1), options.n_critic + 1)
    d = (state.d_params, state.d_batch_stats, state.d_opt_state)
    g_batch_stats = state.g_batch_stats
    if options.n_critic > 1:
        # Each D update's real batch (and its labels): split = (n_critic, batch, ...).
        split = jax.tree.map(
            lambda x: x.reshape(-1, options.n_critic, *x.shape[1:]).swapaxes(0, 1),
            (real, labels),
        )
        earlier = jax.tree.map(lambda x: x[:-1], split)
        d, g_batch_stats = _extra_critic_updates(state, loss, d, g_batch_stats, earlier, keys[:-2])
        real, labels = jax.tree.map(lambda x: x[-1], split)
    z, g_labels = _generator_inputs(state, rng, d, real, labels)
    fake, generator_vjp, g_batch_stats = jax.vjp(
        lambda g_params: _generate_train(state, g_params, g_batch_stats, z, g_labels),
        state.g_params,
        has_aux=True,
    )
    fake_labels = _scored_labels(state, g_labels)
    (d_params, d_batch_stats, d_opt_state), metrics = _discriminator_update(
        state, loss, d, (real, fake, labels, fake_labels, g_labels), keys[-2]
    )

    paired = ()
    if loss.generator_reads_real:
        # D's outputs, after its update, on the real images the fakes are scored against.
        seen_real = augment.diff_augment(real, options.diffaugment, jax.random.fold_in(keys[-1], 1))
        real_logits, d_batch_stats, _ = _apply_discriminator(
            state, d_params, d_batch_stats, seen_real, labels
        )
        paired = (real_logits,)

    def g_loss_fn(fake_images):
        seen = augment.diff_augment(fake_images, options.diffaugment, keys[-1])
        logits, stats, code_logits = _apply_discriminator(
            state, d_params, d_batch_stats, seen, fake_labels, jax.random.fold_in(keys[-1], 2)
        )
        adversarial = loss.generator(logits, *paired)
        return adversarial + _code_term(state, code_logits, g_labels)[0], (stats, adversarial)

    (_, (d_batch_stats, g_loss)), fake_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    (g_grads,) = generator_vjp(fake_grads)
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    new_state = state.replace(
        step=state.step + 1,
        g_params=g_params,
        g_batch_stats=g_batch_stats,
        g_opt_state=g_opt_state,
        d_params=d_params,
        d_batch_stats=d_batch_stats,
        d_opt_state=d_opt_state,
    )
    if options.ema_decay:
        new_state = new_state.replace(
            g_ema_params=regularizers.ema_update(
                state.g_ema_params, g_params, options.ema_decay, state.step
            )
        )
    metrics |= {"g_loss": g_loss, "g_grad_norm": optax.global_norm(g_grads)}
    return new_state, metrics


def _generator_inputs(state: TrainState, rng: jax.Array, d, real: jax.Array, labels):
    """The noise z of as many fakes as `real` images and the classes G draws them for: those
    of the real batch (`labels`) for a class-conditional model, the clusters that D (its
    (params, batch_stats, opt_state) `d`) assigns the real images to for a self-conditioned
    one, uniformly random latent codes (drawn from a key of their own) with `latent_codes`,
    else None."""
    num = real.shape[0]
    z = jax.random.normal(rng, (num, state.generator.latent_dim))
    if state.options.self_conditioning_clusters:
        _, sown = state.discriminator.apply(
            {"params": d[0], "batch_stats": d[1]}, real, train=False, mutable=["intermediates"]
        )
        labels = sown["intermediates"]["cluster"][0]
    if state.options.latent_codes:
        code_key = jax.random.fold_in(rng, 2)
        labels = jax.random.randint(code_key, (num,), 0, state.options.latent_codes)
    return z, labels


def _scored_labels(state: TrainState, g_labels):
    """The classes D scores the fakes with: those G drew them for when D has classes."""
    return g_labels if getattr(state.discriminator, "num_classes", 0) else None


def _generate_train(state: TrainState, g_params, g_batch_stats, z: jax.Array, labels):
    """G in training mode: images and the BatchNorm statistics updated by this batch."""
    fake, updates = state.generator.apply(
        {"params": g_params, "batch_stats": g_batch_stats},
        z,
        train=True,
        mutable=["batch_stats"],
        **sampling.class_labels(labels),
    )
    return fake, updates["batch_stats"]


def _discriminator_update(state: TrainState, loss: losses.GanLoss, d, images, rng):
    """One optimizer step of D on a real and a generated batch.

    Args:
      state: supplies D, its optimizer and the options.
      loss: the objective.
      d: (params, batch_stats, opt_state) of D before the update.
      images: (real images in [-1, 1], generated images (constants here), the classes D scores
        each with, or None: the data's for real images (None for a self-conditioned D, which
        assigns them), those G drew for on fakes; and the classes or codes G drew the fakes for,
        or None).
      rng: for DiffAugment and the gradient penalty's interpolation.

    Returns:
      D's (params, batch_stats, opt_state) after the update, and its metrics.
    """
    d_params, d_batch_stats, d_opt_state = d
    real, fake, labels, fake_labels, g_labels = images
    real_key, fake_key, penalty_key = jax.random.split(rng, 3)
    real = augment.diff_augment(real, state.options.diffaugment, real_key)
    fake = augment.diff_augment(fake, state.options.diffaugment, fake_key)

    def d_loss_fn(params):
        real_logits, stats, _ = _apply_discriminator(state, params, d_batch_stats, real, labels)
        fake_logits, stats, code_logits = _apply_discriminator(
            state, params, stats, fake, fake_labels, jax.random.fold_in(rng, 1)
        )
        adversarial = loss.discriminator(real_logits, fake_logits)
        # Penalised points (real images, real-fake interpolates) keep their image's label.
        d_fn = lambda x: _apply_discriminator(state, params, stats, x, labels)[0]  # noqa: E731
        penalties = _discriminator_penalties(state, d_fn, real, fake, penalty_key)
        code_term, code_metrics = _code_term(state, code_logits, g_labels)
        total = sum((weight * value for weight, value in penalties.values()), adversarial)
        aux = (stats, adversarial, {name: value for name, (_, value) in penalties.items()})
        return total + code_term, aux + (real_logits, fake_logits, code_metrics)

    (_, aux), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params)
    d_batch_stats, d_loss, penalties, real_logits, fake_logits, code_metrics = aux
    d_updates, d_opt_state = state.d_tx.update(d_grads, d_opt_state, d_params)
    metrics = {
        "d_loss": d_loss,
        "d_grad_norm": optax.global_norm(d_grads),
        **penalties,
        **code_metrics,
        **loss.statistics(real_logits, fake_logits),
    }
    return (optax.apply_updates(d_params, d_updates), d_batch_stats, d_opt_state), metrics


def _code_term(state: TrainState, code_logits, codes) -> tuple[jax.Array, dict]:
    """InfoGAN's mutual-information term, `latent_code_weight` x the cross-entropy of Q's
    prediction of the codes G drew the fakes for, and its metrics: the cross-entropy as
    `code_ce` (ln(categories) when Q knows nothing, 0 when it reads every code) and Q's
    accuracy as `code_accuracy`. (0, {}) without the term."""
    if not state.options.latent_code_weight:
        return jnp.zeros(()), {}
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(code_logits, codes).mean()
    accuracy = jnp.mean(jnp.argmax(code_logits, axis=-1) == codes)
    term = state.options.latent_code_weight * cross_entropy
    return term, {"code_ce": cross_entropy, "code_accuracy": accuracy}


def _discriminator_penalties(state: TrainState, d_fn, real, fake, rng) -> dict:
    """The enabled penalties on D's input gradient, as {metric name: (weight, value)}.

    Lazy R1 is computed only every `r1_interval` steps (0 in between), with its weight
    multiplied by the interval so the average strength stays gamma / 2. With `r1_gamma_final`
    set, gamma anneals from `r1_gamma` to it over the run. With `r2_penalty`, R2, the same
    penalty on the generated images, comes with the same weight at the same steps.
    """
    options, penalties = state.options, {}
    if options.gp_weight:
        penalties["gp"] = (options.gp_weight, regularizers.gradient_penalty(d_fn, real, fake, rng))
    if options.r1_gamma:
        gamma = options.r1_gamma
        if options.r1_gamma_final >= 0:
            gamma = cosine_anneal(
                state.step, options.num_train_steps, gamma, options.r1_gamma_final
            )
        due = state.step % options.r1_interval == 0
        penalised = {"r1": real} | ({"r2": fake} if options.r2_penalty else {})
        for name, images in penalised.items():
            penalty = functools.partial(regularizers.r1_penalty, d_fn, images)
            if options.r1_interval > 1:
                value = jax.lax.cond(due, penalty, lambda: jnp.zeros((), real.dtype))
            else:
                value = penalty()
            penalties[name] = (0.5 * gamma * options.r1_interval, value)
    return penalties


def _extra_critic_updates(state: TrainState, loss: losses.GanLoss, d, g_batch_stats, reals, keys):
    """The first `n_critic` - 1 D updates, each on its own real batch and fresh noise.

    `reals` is (images, labels or None), stacked over the updates. The updates are unrolled
    rather than scanned: inside a loop XLA's CPU backend runs `lax.conv` many times slower
    (SNGAN's ResNet step, batch 16, n_critic 5: 145 s scanned, 4 s unrolled), and n_critic
    is small.

    Returns:
      D's (params, batch_stats, opt_state) and G's BatchNorm statistics after them.
    """
    images, labels_per_update = reals
    for index, key in enumerate(keys):
        real = images[index]
        labels = None if labels_per_update is None else labels_per_update[index]
        z_key, d_key = jax.random.split(key)
        z, g_labels = _generator_inputs(state, z_key, d, real, labels)
        fake, g_batch_stats = _generate_train(state, state.g_params, g_batch_stats, z, g_labels)
        fake_labels = _scored_labels(state, g_labels)
        seen = (real, fake, labels, fake_labels, g_labels)
        d, _ = _discriminator_update(state, loss, d, seen, d_key)
    return d, g_batch_stats


def jit_train_step(mesh, state_sharding):
    """`train_step` compiled for `mesh`: the state kept in place and donated, batch split over
    'data', metrics replicated.

    Args:
      mesh: the device mesh.
      state_sharding: the state's shardings, e.g. `parallel.shardings_of(state)`.
    """
    return jax.jit(
        train_step,
        donate_argnums=0,
        in_shardings=(state_sharding, parallel.batch_sharded(mesh)),
        out_shardings=(state_sharding, parallel.replicated(mesh)),
    )


def _apply_discriminator(
    state: TrainState, d_params, batch_stats, images, labels, view_key: jax.Array | None = None
):
    """D in training mode: logits, the BatchNorm statistics updated by this batch, and the
    latent code logits of D's head Q (None without one). `view_key` draws the random
    rescaling of an outline-reading Q's view (`code_reader`); None: no rescaling."""
    with_code = getattr(state.discriminator, "code_categories", 0) > 0
    logits, updates = state.discriminator.apply(
        {"params": d_params, "batch_stats": batch_stats},
        images,
        train=True,
        mutable=["batch_stats", "intermediates"] if with_code else ["batch_stats"],
        rngs={} if view_key is None else {code_reader.VIEW_RNG: view_key},
        **sampling.class_labels(labels),
    )
    code_logits = updates["intermediates"]["code_logits"][0] if with_code else None
    return logits, updates.get("batch_stats", {}), code_logits


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
    state: TrainState, noise: jax.Array, step: int, workdir: pathlib.Path, writer
) -> None:
    """Renders the grid of the fixed `noise` to WORKDIR/samples/step_NNNNNNN.png and
    TensorBoard, each image of the class `sampling.drawn_labels` gives it (with 8 classes
    drawn equally often, one class per column)."""
    labels = sampling.drawn_labels(state, len(noise))
    grid = images.make_grid(
        images.to_uint8(parallel.to_host(sampling.generate(state, noise, labels)))
    )
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
      UserError: a bad config, unwritable workdir (also mid-run: a full disk), busy workdir,
        unknown or missing dataset, incompatible checkpoint, or a diverged (NaN/inf) loss.
      preemption.Preempted: SIGTERM or SIGINT arrived; the state after the step it stopped
        at is checkpointed, so running again resumes exactly.
    """
    validation.validate_config(config)
    workdir = validation.prepare_workdir(workdir)
    # The lock comes first: the manager removes unfinished checkpoints, which in a workdir in
    # use are another run's saves in progress. Closing the manager waits for the last
    # save, also when an error stops the run.
    with (
        workdir_lock.WorkdirLock(workdir),
        checkpointing.write_failures_explained(workdir),
        contextlib.closing(
            checkpointing.create_manager(workdir, config, remove_unfinished=True)
        ) as manager,
    ):
        return _train(config, workdir, manager)


def _train(config, workdir: pathlib.Path, manager) -> TrainState:
    """`train_and_evaluate` once the workdir is held: resume, then the training loop."""
    mesh = parallel.create_mesh()
    state = create_sharded_state(config, mesh)
    # Before any data work: a mismatched checkpoint is refused, damaged ones are set aside.
    resumed = checkpointing.restore_newest(manager, state, config, set_aside=True)
    data = pipeline.prepare(config)
    if resumed is not None:
        state, resume_step = resumed
        logging.info("Resuming from the checkpoint at step %d.", resume_step)
        checkpointing.warn_if_data_changed(manager, resume_step, data.source.num_examples)
    if getattr(state.generator, "class_shares", False):
        state = _with_class_shares(state, data, config, resumed=resumed is not None)
    last_step = num_train_steps(config, data.steps_per_epoch)
    evaluator = None
    if config.eval_every_steps > 0:  # loads the extractor now: a missing one stops us here
        evaluator = periodic_evaluation.PeriodicEvaluation(config, workdir, data)
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
        divergence_reports=config.divergence_reports,
        stop_on_divergence=config.stop_on_divergence,
    )
    step_fn = jit_train_step(mesh, parallel.shardings_of(state))
    grid_noise = sampling.latent_noise(config.seed, NUM_GRID_SAMPLES, config.latent_dim)
    batches = pipeline.train_batches(data, config, start_step)

    def save_checkpoint(step: int) -> None:
        trace.report(step)  # refuses to save a state that came from a NaN loss
        epoch, batch = divmod(step, data.steps_per_epoch)
        position = checkpointing.DataPosition(epoch, batch, data.source.num_examples)
        checkpointing.save(manager, step, state, config, position)

    loop_start = time.perf_counter()
    with metric_writers.ensure_flushes(writer), preemption.StopSignals() as signals:
        for step in range(start_step + 1, last_step + 1):
            state, metrics = step_fn(state, parallel.global_batch(next(batches), mesh))
            trace.record(metrics)
            if step == start_step + 1:
                _log_first_step(metrics, trace, step, loop_start)
            evaluated = evaluator is not None and (
                step % config.eval_every_steps == 0 or step == last_step
            )
            if evaluated:  # before the step's row, which shows its scores
                started = time.perf_counter()
                trace.add_evaluation(evaluator(state, step, writer), time.perf_counter() - started)
            if evaluated or step % config.log_every_steps == 0 or step % data.steps_per_epoch == 0:
                trace.report(step)
            if step % config.sample_every_steps == 0 or step == last_step:
                write_sample_grid(state, grid_noise, step, workdir, writer)
            checkpointed = step % config.checkpoint_every_steps == 0 or step == last_step
            if checkpointed:
                save_checkpoint(step)
            if signals.should_stop(step) and step < last_step:
                if not checkpointed:
                    save_checkpoint(step)
                raise _preempted(signals.received, step, last_step, workdir)
    return state


def _with_class_shares(state: TrainState, data: pipeline.TrainingData, config, resumed: bool):
    """`state` with its generator's `class_shares` set to the training data's classes.

    A resumed run found its classes (outline clusters) again; they must be the ones its
    checkpoint was trained on, which its shares record.

    Raises:
      UserError: a resumed run whose classes now hold other shares of the images.
    """
    shares = outline_clusters.shares(data.source.labels, config.num_classes)
    held = state.g_batch_stats["class_shares"]
    if resumed:
        checkpointed = parallel.to_host(held)
        if not np.allclose(checkpointed, shares, atol=1e-6):
            raise UserError(
                f"The classes found from the images now hold shares {np.round(shares, 4)} of "
                f"them, but the checkpoint's hold {np.round(checkpointed, 4)}: the images or "
                "the clustering changed since the run started, and its classes would no "
                "longer mean what G learned. Resume with the same data, or start a new workdir."
            )
        return state
    placed = jax.make_array_from_callback(shares.shape, held.sharding, lambda index: shares[index])
    return state.replace(g_batch_stats={**state.g_batch_stats, "class_shares": placed})


def _preempted(signal_number: int, step: int, last_step: int, workdir) -> preemption.Preempted:
    name = signal.Signals(signal_number).name
    return preemption.Preempted(
        signal_number,
        f"Stopped on {name} after step {step} of {last_step}; its checkpoint is in "
        f"{workdir / checkpointing.DIRECTORY} and trace.csv is complete up to it. Run the "
        "same command again to continue exactly from there.",
    )


def _log_first_step(metrics, trace: progress.TrainingTrace, step: int, started: float) -> None:
    """Waits once for the first step, so compilation stays out of the throughput figures."""
    jax.block_until_ready(metrics)
    logging.info("First step (compilation included) took %.1f s.", time.perf_counter() - started)
    trace.restart_clock(step)
