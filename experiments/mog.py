"""2-D mixture-of-Gaussians mode-collapse benchmark (Unrolled GAN, VEEGAN, PacGAN).

    python -m experiments.mog --out=runs/mog
    python -m experiments.mog --out=/tmp/mog --datasets=ring --num_steps=500 --num_seeds=2

Two targets, as in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): 8 Gaussians
on a ring of radius 2 and 25 on a 5x5 grid with spacing 2, every mode with standard deviation
0.02 and equal weight. An MLP generator and discriminator train with the non-saturating loss
and Adam; all seeds train at once (`jax.vmap` over the seeds), so the whole benchmark runs in
minutes on a CPU and a short run serves as a regression test of training dynamics.

Scores on `num_eval` generated points, each assigned to its nearest mode:
- high quality: the fraction within 3 standard deviations of that mode's centre;
- modes covered: modes with at least `min_mode_count` high-quality points;
- reverse KL: KL(generated || real) of the mode frequencies (real: uniform), in nats.
Reported as mean ± standard error over seeds. The script writes, per target, seed 0's samples
(`samples_<target>.npy`, N x 2), their scatter plot over the mode centres (`samples_<target>.png`)
and every seed's scores (`results.json`), and prints them as a Markdown table.
"""

import functools
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags
from flax import linen as nn
from PIL import Image, ImageDraw

from gan import losses

flags.DEFINE_string("out", None, "Output directory.")
flags.DEFINE_list("datasets", ["ring", "grid"], "Targets: ring (8 modes), grid (25 modes).")
flags.DEFINE_integer("num_steps", 5_000, "Training steps (one D then one G update each).")
flags.DEFINE_integer("num_seeds", 10, "Independent runs, trained in parallel.")
flags.DEFINE_integer("batch_size", 500, "Real and generated points per step.")
flags.DEFINE_integer("num_eval", 2_500, "Generated points scored per seed.")
flags.DEFINE_integer("min_mode_count", 20, "High-quality points a mode needs to count.")
flags.mark_flags_as_required(["out"])
FLAGS = flags.FLAGS

MODE_STD = 0.02
LATENT_DIM = 16
LEARNING_RATE = 1e-4


def mode_centres(name: str) -> np.ndarray:
    """(K, 2) centres: 8 on a circle of radius 2, or the 5x5 grid {-4, -2, 0, 2, 4}^2."""
    if name == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "grid":
        axis = np.arange(-4.0, 5.0, 2.0)
        return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    raise app.UsageError(f"Unknown dataset {name!r}: use ring or grid.")


class MLP(nn.Module):
    """ReLU hidden layers, linear output: the generator (out 2) and discriminator (out 1)."""

    hidden: tuple[int, ...]
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


GENERATOR = MLP(hidden=(400, 400, 400), out=2)
DISCRIMINATOR = MLP(hidden=(200, 200, 200), out=1)
OPTIMIZER = optax.adam(LEARNING_RATE, b1=0.5)


def sample_real(rng: jax.Array, centres: jax.Array, num: int) -> jax.Array:
    """Points of the equal-weight mixture."""
    mode_key, noise_key = jax.random.split(rng)
    modes = jax.random.randint(mode_key, (num,), 0, len(centres))
    return centres[modes] + MODE_STD * jax.random.normal(noise_key, (num, 2))


def init_state(rng: jax.Array) -> dict:
    """Both networks' parameters and optimizer states for one seed."""
    g_key, d_key = jax.random.split(rng)
    g_params = GENERATOR.init(g_key, jnp.zeros((1, LATENT_DIM)))
    d_params = DISCRIMINATOR.init(d_key, jnp.zeros((1, 2)))
    return {
        "g": g_params,
        "d": d_params,
        "g_opt": OPTIMIZER.init(g_params),
        "d_opt": OPTIMIZER.init(d_params),
    }


def train_step(state: dict, rng: jax.Array, centres: jax.Array, batch_size: int) -> dict:
    """One discriminator update, then one generator update (non-saturating loss)."""
    real_key, z_key = jax.random.split(rng)
    real = sample_real(real_key, centres, batch_size)
    z = jax.random.normal(z_key, (batch_size, LATENT_DIM))
    fake = GENERATOR.apply(state["g"], z)

    def d_loss(d_params):
        real_logits = DISCRIMINATOR.apply(d_params, real)[:, 0]
        fake_logits = DISCRIMINATOR.apply(d_params, fake)[:, 0]
        return losses.discriminator_loss(real_logits, fake_logits)

    d_updates, d_opt = OPTIMIZER.update(jax.grad(d_loss)(state["d"]), state["d_opt"])
    d_params = optax.apply_updates(state["d"], d_updates)

    def g_loss(g_params):
        logits = DISCRIMINATOR.apply(d_params, GENERATOR.apply(g_params, z))[:, 0]
        return losses.generator_loss(logits)

    g_updates, g_opt = OPTIMIZER.update(jax.grad(g_loss)(state["g"]), state["g_opt"])
    return {
        "g": optax.apply_updates(state["g"], g_updates),
        "d": d_params,
        "g_opt": g_opt,
        "d_opt": d_opt,
    }


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "num_eval"))
def train_seeds(keys, centres, num_steps: int, batch_size: int, num_eval: int) -> jax.Array:
    """Trains one GAN per key (vmapped) and returns (seeds, num_eval, 2) generated points."""

    def run(key):
        init_key, train_key, eval_key = jax.random.split(key, 3)
        step = lambda s, k: (train_step(s, k, centres, batch_size), None)  # noqa: E731
        state, _ = jax.lax.scan(step, init_state(init_key), jax.random.split(train_key, num_steps))
        return GENERATOR.apply(state["g"], jax.random.normal(eval_key, (num_eval, LATENT_DIM)))

    return jax.vmap(run)(keys)


def score(points: np.ndarray, centres: np.ndarray, min_mode_count: int) -> dict[str, float]:
    """Modes covered, % high-quality points and reverse KL of one seed's points."""
    distances = np.linalg.norm(points[:, None] - centres[None], axis=-1)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) <= 3 * MODE_STD
    hq_counts = np.bincount(nearest[high_quality], minlength=len(centres))
    frequencies = np.bincount(nearest, minlength=len(centres)) / len(points)
    hit = frequencies > 0
    return {
        "modes": int(np.sum(hq_counts >= min_mode_count)),
        "high_quality_pct": 100.0 * float(high_quality.mean()),
        "reverse_kl": float(np.sum(frequencies[hit] * np.log(frequencies[hit] * len(centres)))),
    }


def mean_and_sem(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n))."""
    values = np.asarray(values, np.float64)
    sem = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(sem)


def save_scatter(points: np.ndarray, centres: np.ndarray, path: pathlib.Path) -> None:
    """White 512x512 picture: generated points in blue over red mode centres."""
    size, extent = 512, float(np.abs(centres).max()) + 1.0
    to_pixel = lambda p: (p * np.array([1, -1]) / extent + 1) * size / 2  # noqa: E731
    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)
    for x, y in to_pixel(points):
        draw.point((float(x), float(y)), fill=(30, 60, 200))
    for x, y in to_pixel(centres):
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=(220, 30, 40))
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
    centres = mode_centres(name)
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    points = np.asarray(train_seeds(keys, jnp.asarray(centres), num_steps, batch_size, num_eval))
    np.save(out / f"samples_{name}.npy", points[0])
    save_scatter(points[0], centres, out / f"samples_{name}.png")
    per_seed = [score(p, centres, min_mode_count) for p in points]
    summary = {key: mean_and_sem([s[key] for s in per_seed]) for key in per_seed[0]}
    return {"num_modes": len(centres), "summary": summary, "per_seed": per_seed}


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
