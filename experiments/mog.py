"""2-D mixture-of-Gaussians mode-collapse benchmark, in the setting of PacGAN's Table 1.

    python -m experiments.mog --out=runs/mog
    python -m experiments.mog --out=/tmp/mog --datasets=ring --num_steps=1000 --num_seeds=2

Targets, networks and optimizer follow the released code of PacGAN (Lin et al. 2018,
github.com/fjxmlzn/PacGAN, `synthetic_data_experiments/2D*_GAN&PacGAN`), whose Table 1 scores
GANs with the two measures of VEEGAN (Srivastava et al. 2017, Table 1) plus reverse KL:
- ring: 8 equal-weight Gaussians on the unit circle, standard deviation 0.01;
- grid: 25 equal-weight Gaussians on {-4, -2, 0, 2, 4}^2, standard deviation 0.05;
- generator: 2-d standard normal z, 4 hidden layers of 400 units (batch norm, ReLU), linear out;
- discriminator: 3 maxout layers of 200 units x 5 pieces, linear logit;
- weights N(0, 0.02), biases 0; non-saturating loss; D and G updated simultaneously from one
  batch of 100; Adam, learning rate 1e-4, beta1 0.8.
Real points are drawn afresh each step (PacGAN cycles through a fixed set of 100,000). PacGAN
trains for 400 epochs of that set, 400,000 steps: half a day or more for 10 seeds of both targets
on a 2-core CPU. The default `--num_steps` of 20,000 is a CPU budget; on a GPU, where the seeds
train together, PacGAN's budget takes minutes.

Scores on `num_eval` generated points (2,500 as in VEEGAN and PacGAN), each assigned to its
nearest mode:
- high quality: the fraction within 3 standard deviations of that mode's centre;
- modes covered: modes with at least `min_mode_count` high-quality points (1 in both papers);
- reverse KL: KL(generated || real) of the mode frequencies (real: uniform), in nats.
Reported as mean ± standard error over seeds. The script writes, per target, seed 0's samples
(`samples_<target>.npy`, N x 2), their scatter plot over the mode centres (`samples_<target>.png`)
and every seed's scores (`results.json`), and prints them as a Markdown table.
"""

import functools
import json
import math
import pathlib
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags, logging
from flax import linen as nn
from flax import struct
from PIL import Image, ImageDraw

from gan.training import losses

flags.DEFINE_string("out", None, "Output directory.")
flags.DEFINE_list("datasets", ["ring", "grid"], "Targets: ring (8 modes), grid (25 modes).")
flags.DEFINE_integer("num_steps", 20_000, "Training steps (one simultaneous D and G update each).")
flags.DEFINE_integer("num_seeds", 10, "Independent runs.")
flags.DEFINE_integer("batch_size", 100, "Real and generated points per step.")
flags.DEFINE_integer("num_eval", 2_500, "Generated points scored per seed.")
flags.DEFINE_integer("min_mode_count", 1, "High-quality points a mode needs to count as covered.")
flags.mark_flags_as_required(["out"])
FLAGS = flags.FLAGS

LATENT_DIM = 2
WEIGHT_INIT = nn.initializers.normal(0.02)
OPTIMIZER = optax.adam(1e-4, b1=0.8)


class Target(NamedTuple):
    """An equal-weight mixture of isotropic Gaussians."""

    centres: np.ndarray  # (K, 2)
    std: float


def make_target(name: str) -> Target:
    """PacGAN's targets: 8 modes on the unit circle, or 25 on the grid {-4, -2, 0, 2, 4}^2."""
    if name == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return Target(np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01)
    if name == "grid":
        axis = np.arange(-4.0, 5.0, 2.0)
        return Target(np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2), 0.05)
    raise app.UsageError(f"Unknown dataset {name!r}: use ring or grid.")


class Generator(nn.Module):
    """z -> 4 x (dense 400, batch norm, ReLU) -> dense 2; no hidden bias, batch norm shifts."""

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        x = z
        for _ in range(4):
            x = nn.Dense(400, use_bias=False, kernel_init=WEIGHT_INIT)(x)
            # momentum 0.95: PacGAN's population update, 0.05 * batch + 0.95 * running.
            x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.95)(x))
        return nn.Dense(2, kernel_init=WEIGHT_INIT)(x)


class Discriminator(nn.Module):
    """x -> 3 maxout layers (200 units, each the max of 5 linear pieces) -> one logit."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(3):
            pieces = nn.Dense(200 * 5, kernel_init=WEIGHT_INIT)(x)
            x = pieces.reshape(*x.shape[:-1], 200, 5).max(axis=-1)
        return nn.Dense(1, kernel_init=WEIGHT_INIT)(x)[..., 0]


GENERATOR = Generator()
DISCRIMINATOR = Discriminator()


@struct.dataclass
class TrainState:
    """Both networks' parameters, G's batch-norm statistics and both optimizer states."""

    g_params: dict
    g_batch_stats: dict
    d_params: dict
    g_opt: optax.OptState
    d_opt: optax.OptState


def create_state(rng: jax.Array, batch_size: int) -> TrainState:
    """Freshly initialised networks and optimizers for one seed."""
    g_rng, d_rng = jax.random.split(rng)
    g_vars = GENERATOR.init(g_rng, jnp.zeros((batch_size, LATENT_DIM)), train=True)
    d_params = DISCRIMINATOR.init(d_rng, jnp.zeros((1, 2)))
    return TrainState(
        g_params=g_vars["params"],
        g_batch_stats=g_vars["batch_stats"],
        d_params=d_params,
        g_opt=OPTIMIZER.init(g_vars["params"]),
        d_opt=OPTIMIZER.init(d_params),
    )


def sample_real(rng: jax.Array, centres: jax.Array, std: float, num: int) -> jax.Array:
    """Points of the equal-weight mixture of N(centre, std^2 I)."""
    mode_rng, noise_rng = jax.random.split(rng)
    modes = jax.random.randint(mode_rng, (num,), 0, len(centres))
    return centres[modes] + std * jax.random.normal(noise_rng, (num, 2))


def train_step(
    state: TrainState, rng: jax.Array, centres: jax.Array, std: float, batch_size: int
) -> TrainState:
    """One simultaneous update: both gradients at the current parameters, as PacGAN trains.

    G's forward pass is shared: D's loss is differentiated with respect to D's parameters and
    the generated points, G's non-saturating loss is pulled back through G with one VJP.
    """
    real_rng, z_rng = jax.random.split(rng)
    real = sample_real(real_rng, centres, std, batch_size)
    z = jax.random.normal(z_rng, (batch_size, LATENT_DIM))

    def generate(g_params):
        variables = {"params": g_params, "batch_stats": state.g_batch_stats}
        return GENERATOR.apply(variables, z, train=True, mutable=["batch_stats"])

    fake, g_vjp, g_updates = jax.vjp(generate, state.g_params, has_aux=True)

    def d_loss(d_params):
        fake_logits = DISCRIMINATOR.apply(d_params, fake)
        return losses.discriminator_loss(DISCRIMINATOR.apply(d_params, real), fake_logits)

    def g_loss(points):
        return losses.generator_loss(DISCRIMINATOR.apply(state.d_params, points))

    d_grads = jax.grad(d_loss)(state.d_params)
    (g_grads,) = g_vjp(jax.grad(g_loss)(fake))
    d_step, d_opt = OPTIMIZER.update(d_grads, state.d_opt)
    g_step, g_opt = OPTIMIZER.update(g_grads, state.g_opt)
    return TrainState(
        g_params=optax.apply_updates(state.g_params, g_step),
        g_batch_stats=g_updates["batch_stats"],
        d_params=optax.apply_updates(state.d_params, d_step),
        g_opt=g_opt,
        d_opt=d_opt,
    )


def train_and_sample(
    rng: jax.Array, centres: jax.Array, std: float, num_steps: int, batch_size: int, num_eval: int
) -> jax.Array:
    """Trains one GAN and returns `num_eval` of its points, (num_eval, 2)."""
    init_rng, train_rng, eval_rng = jax.random.split(rng, 3)
    step = lambda s, r: (train_step(s, r, centres, std, batch_size), None)  # noqa: E731
    rngs = jax.random.split(train_rng, num_steps)
    state, _ = jax.lax.scan(step, create_state(init_rng, batch_size), rngs)
    # Population statistics in batch norm, as PacGAN samples its generator for the scores.
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    z = jax.random.normal(eval_rng, (num_eval, LATENT_DIM))
    return GENERATOR.apply(variables, z, train=False)


@functools.partial(jax.jit, static_argnames=("std", "num_steps", "batch_size", "num_eval"))
def train_seeds(
    rngs: jax.Array, centres: jax.Array, std: float, num_steps: int, batch_size: int, num_eval: int
) -> jax.Array:
    """`train_and_sample` for each key: (seeds, num_eval, 2).

    On a GPU the seeds train together (`vmap`); on a CPU one after another (`lax.map`), since
    there a vmapped batch of small matrix products ran no faster than the same products in turn
    (10 seeds: 161 against 124 ms a step).
    """
    run = functools.partial(
        train_and_sample,
        centres=centres,
        std=std,
        num_steps=num_steps,
        batch_size=batch_size,
        num_eval=num_eval,
    )
    if jax.default_backend() == "cpu":
        return jax.lax.map(run, rngs)
    return jax.vmap(run)(rngs)


def score(points: np.ndarray, target: Target, min_mode_count: int) -> dict[str, float]:
    """Modes covered, % high-quality points and reverse KL of one seed's points."""
    distances = np.linalg.norm(points[:, None] - target.centres[None], axis=-1)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) <= 3 * target.std
    num_modes = len(target.centres)
    hq_counts = np.bincount(nearest[high_quality], minlength=num_modes)
    frequencies = np.bincount(nearest, minlength=num_modes) / len(points)
    hit = frequencies > 0
    return {
        "modes": int(np.sum(hq_counts >= min_mode_count)),
        "high_quality_pct": 100.0 * float(high_quality.mean()),
        "reverse_kl": float(np.sum(frequencies[hit] * np.log(frequencies[hit] * num_modes))),
    }


def mean_and_sem(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n))."""
    values = np.asarray(values, np.float64)
    sem = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(sem)


def save_scatter(points: np.ndarray, target: Target, path: pathlib.Path) -> None:
    """White 512x512 picture: generated points in blue over red circles of radius 3 std.

    The circles are the high-quality regions, so a missed mode shows as an empty circle.
    """
    size, extent = 512, 1.5 * float(np.abs(target.centres).max())
    scale = size / (2 * extent)
    to_pixel = lambda p: (p * np.array([1, -1]) + extent) * scale  # noqa: E731
    radius = max(3 * target.std * scale, 2.0)
    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)
    for x, y in to_pixel(target.centres):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=(220, 30, 40))
    for x, y in to_pixel(points):
        draw.rectangle((float(x), float(y), float(x) + 1, float(y) + 1), fill=(30, 60, 200))
    picture.save(path)


def run_benchmark(
    name: str,
    out: pathlib.Path,
    num_steps: int,
    num_seeds: int,
    batch_size: int,
    num_eval: int,
    min_mode_count: int,
) -> dict:
    """Trains `num_seeds` GANs on one target, writes its files and returns its summary."""
    target = make_target(name)
    rngs = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    start = time.perf_counter()
    points = train_seeds(
        rngs, jnp.asarray(target.centres), target.std, num_steps, batch_size, num_eval
    )
    points = np.asarray(points)
    seconds = time.perf_counter() - start
    logging.info("%s: %d seeds x %d steps in %.0f s", name, num_seeds, num_steps, seconds)
    np.save(out / f"samples_{name}.npy", points[0])
    save_scatter(points[0], target, out / f"samples_{name}.png")
    per_seed = [score(p, target, min_mode_count) for p in points]
    summary = {key: mean_and_sem([s[key] for s in per_seed]) for key in per_seed[0]}
    return {
        "num_modes": len(target.centres),
        "seconds": seconds,
        "summary": summary,
        "per_seed": per_seed,
    }


def table(results: dict, num_seeds: int) -> str:
    """Markdown rows: target, modes, % high quality, reverse KL (mean ± s.e.)."""
    rows = []
    for name, result in results.items():
        cells = [f"{m:.2f} ± {s:.2f}" for m, s in result["summary"].values()]
        rows.append(
            f"| {name} ({result['num_modes']} modes), {num_seeds} seeds | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(rows)


def main(argv):
    del argv
    out = pathlib.Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        name: run_benchmark(
            name,
            out,
            FLAGS.num_steps,
            FLAGS.num_seeds,
            FLAGS.batch_size,
            FLAGS.num_eval,
            FLAGS.min_mode_count,
        )
        for name in FLAGS.datasets
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| target | modes covered | high-quality samples (%) | reverse KL |")
    print("|---|---|---|---|")
    print(table(results, FLAGS.num_seeds))


if __name__ == "__main__":
    app.run(main)
