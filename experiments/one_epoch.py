"""What DCGAN draws after one epoch of procedural_shapes, for variants of the data and recipe.

    python -m experiments.one_epoch --out=runs/one_epoch
    python -m experiments.one_epoch --out=/tmp/one_epoch --variants=shipped,huge --num_images=512 \
        --num_steps=3

The README's target is that a 64 px DCGAN visibly learns the embedded shapes within one epoch
(1,562 steps of 64). This asks which property of the data or of the recipe decides that: each
variant re-renders the 100,000 training images with some of `procedural_shapes`' rendering
constants changed (shape sizes, blur, grain, background textures, fewer shapes) or trains
`configs/dcgan_paper.py` (the default recipe when this study ran) with some keys changed,
trains for one epoch from the same noise seed, and
draws 16 samples of fixed noise (inference mode, as `gan.sample` does). The images are
rendered in memory, in parallel, and fed without tf.data; the step is
`gan.training.train.train_step` itself.

With `--frameworks=jax,torch`, each data variant is also trained by PyTorch's own DCGAN (the
networks, initialisation and update of `benchmarks/torch_dcgan.py`, float32) on the same images
in the same order: a control for whether what the generator draws comes from the data and
recipe or from this implementation.

Writes `samples.npz` (one uint8 N x 64 x 64 x 3 array per run: `<variant>_seed<k>`,
`<variant>_torch_seed<k>` for the control, plus `real_<data>`) and `one_epoch.png` (a row of
samples per run, its D accuracies in the label).
On an H200 one variant takes about 10 s after rendering; on a 2-core CPU about 17 min.
"""

import concurrent.futures
import multiprocessing
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

from configs import dcgan_paper
from gan import images
from gan.data import procedural_shapes
from gan.models import sampling
from gan.training import train

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Defines the command-line flags (only when run as a script, so importing this module
    next to other experiments defines nothing)."""
    flags.DEFINE_string("out", None, "Output directory.")
    flags.DEFINE_list("variants", None, "Variants to run (default: all of VARIANTS).")
    flags.DEFINE_list("seeds", ["0"], "Training seeds per variant.")
    flags.DEFINE_integer("num_images", 100_000, "Training images rendered per data variant.")
    flags.DEFINE_integer("num_steps", 0, "Steps per run; 0 is one epoch of num_images.")
    flags.DEFINE_integer("num_samples", 16, "Fixed-noise samples drawn per run.")
    flags.DEFINE_list(
        "frameworks",
        ["jax"],
        "Who trains: jax (this project), torch (PyTorch's DCGAN, benchmarks/torch_dcgan.py, "
        "needs requirements-bench.txt, as a control; data variants only), or both.",
    )
    flags.mark_flags_as_required(["out"])


LARGER = {"small": 13.0, "medium": 17.0, "large": 21.0, "huge": 25.0}
LARGEST = {"small": 16.0, "medium": 20.0, "large": 24.0, "huge": 28.0}
FLAT = dict.fromkeys(procedural_shapes.BACKGROUNDS, 0.0)
# Four shapes whose outlines differ at coarse scale (a disc, corners, a point, arms).
FOUR_SHAPES = ("circle", "square", "triangle", "plus")
# Shapes on black, no grain, no texture (MNIST-like): most pixels at the generator's tanh floor.
LARGER_DARK_CLEAN = {
    "SIZE_PX": LARGER,
    "_BG_GREY": (0.0, 0.0),
    "_BG_TINT": 0.0,
    "_BG_TEXTURE_AMPLITUDE": FLAT,
    "GRAIN": 0.0,
}
_independent_factors = procedural_shapes.sample_factors


def colour_by_shape(rng: np.random.Generator) -> procedural_shapes.Factors:
    """The shipped factors, except that each shape always has the colour of the same index: a
    generator that has settled on a colour (which it learns first) has settled on a shape."""
    factors = _independent_factors(rng)
    return factors._replace(color=factors.shape)


# Rendering constants (and functions) of `procedural_shapes` changed by each data variant.
DATA = {
    "shipped": {},
    "larger": {"SIZE_PX": LARGER},
    "largest": {"SIZE_PX": LARGEST},
    "larger_no_grain": {"SIZE_PX": LARGER, "GRAIN": 0.0},
    "larger_flat": {"SIZE_PX": LARGER, "_BG_TEXTURE_AMPLITUDE": FLAT},
    "largest_clean_flat": {
        "SIZE_PX": LARGEST,
        "GRAIN": 0.0,
        "BLUR_PX": 0.0,
        "_BG_TEXTURE_AMPLITUDE": FLAT,
    },
    "four_shapes": {
        "SHAPES": FOUR_SHAPES,
        "FACTORS": procedural_shapes.FACTORS | {"shape": FOUR_SHAPES},
    },
    "colour_by_shape": {"sample_factors": colour_by_shape},
    "colour_by_shape_larger": {"sample_factors": colour_by_shape, "SIZE_PX": LARGER},
    "larger_dark_clean": LARGER_DARK_CLEAN,
    "larger_dark_clean_colour_by_shape": LARGER_DARK_CLEAN | {"sample_factors": colour_by_shape},
}
R1_NO_BN_EMA = {"d_norm": "none", "r1_gamma": 1.0, "r1_interval": 4, "ema_decay": 0.999}
# Variant name -> (data variant, config overrides): every data variant with the shipped recipe,
# then recipe variants on the shipped data.
VARIANTS = {name: (name, {}) for name in DATA} | {
    "label_smoothing_0.1": ("shipped", {"label_smoothing": 0.1}),
    "ndf_32": ("shipped", {"ndf": 32}),
    "batch_32": ("shipped", {"batch_size": 32}),
    # Samples from an exponential moving average of G's weights (Yazici et al. 2019).
    "ema_0.99": ("shipped", {"ema_decay": 0.99}),
    "ema_0.999": ("shipped", {"ema_decay": 0.999}),
    # D learns 4x slower than G (two time-scale rule, Heusel et al. 2017), as D wins early.
    "d_lr_5e-5": ("shipped", {"d_learning_rate": 5e-5}),
    # A zero-centred penalty on D's gradient at real images (R1, Mescheder et al. 2018) in
    # place of D's BatchNorm, which lets D judge a batch by its statistics, and G's EMA.
    "r1_no_bn_ema": ("shipped", R1_NO_BN_EMA),
    # The same with the betas of StyleGAN2 and R3GAN (no momentum in Adam's first moment).
    "r1_no_bn_ema_beta0": ("shipped", R1_NO_BN_EMA | {"beta1": 0.0, "beta2": 0.99}),
    # A ten times weaker R1.
    "r1_0.1_no_bn_ema": ("shipped", R1_NO_BN_EMA | {"r1_gamma": 0.1}),
}
NOISE_SEED = 42


def _use_constants(constants: dict) -> None:
    """Sets `procedural_shapes`' rendering constants in a worker process (its own copy)."""
    for name, value in constants.items():
        setattr(procedural_shapes, name, value)


def _render(index: int) -> np.ndarray:
    return procedural_shapes.make_example("train", index)[0]


def render(data: str, num_images: int) -> np.ndarray:
    """The first `num_images` training images of `data`, rendered by all CPU cores.

    The workers are spawned, not forked: forking a process in which JAX has started its
    threads can deadlock.
    """
    with concurrent.futures.ProcessPoolExecutor(
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_use_constants,
        initargs=(DATA[data],),
    ) as pool:
        return np.stack(list(pool.map(_render, range(num_images), chunksize=500)))


def variant_config(name: str, seed: int):
    """`configs/dcgan_paper.py` with `name`'s overrides (none for a data variant) and `seed`."""
    config = dcgan_paper.get_config()
    config.update(VARIANTS[name][1])
    config.seed = seed
    return config


def batch_indices(num_images: int, batch_size: int, num_steps: int, seed: int) -> np.ndarray:
    """(steps, batch_size) image indices for `num_steps` (0: one epoch): a fresh permutation
    per epoch, read in order."""
    num_steps = num_steps or num_images // batch_size
    rng = np.random.default_rng(seed)
    epochs = -(-num_steps * batch_size // num_images)
    order = np.concatenate([rng.permutation(num_images) for _ in range(epochs)])
    return order[: num_steps * batch_size].reshape(num_steps, batch_size)


def train_one_epoch(
    name: str, pictures: np.ndarray, seed: int, num_steps: int, num_samples: int
) -> tuple[np.ndarray, dict]:
    """Trains DCGAN with `name`'s overrides on `pictures` for `num_steps` (0: one epoch);
    returns `num_samples` fixed-noise samples and the last step's metrics."""
    config = variant_config(name, seed)
    state = train.create_train_state(config, jax.random.PRNGKey(seed))
    step = jax.jit(train.train_step, donate_argnums=0)
    on_device = jax.device_put(pictures)
    gather = jax.jit(lambda data, index: data[index].astype(jnp.float32) / 255.0)
    metrics = {}
    for batch in batch_indices(len(pictures), config.batch_size, num_steps, seed):
        state, metrics = step(state, {"image": gather(on_device, batch)})
    z = sampling.latent_noise(NOISE_SEED, num_samples, config.latent_dim)
    samples = images.to_uint8(jax.device_get(sampling.generate(state, z)))
    return samples, {key: float(value) for key, value in jax.device_get(metrics).items()}


def train_one_epoch_torch(
    name: str, pictures: np.ndarray, seed: int, num_steps: int, num_samples: int
) -> tuple[np.ndarray, dict]:
    """`train_one_epoch` in PyTorch: the networks and update of `benchmarks/torch_dcgan.py`
    (PyTorch's own DCGAN example), float32, same data order. A control: what both
    implementations draw is the data's and the recipe's doing, not this project's."""
    import torch  # the benchmark extra (requirements-bench.txt), needed by this control only

    from benchmarks import torch_dcgan

    config = variant_config(name, seed)  # a data variant: `main` refuses recipe variants
    generator, discriminator = torch_dcgan.create_models(config)
    step = torch_dcgan.create_train_step(
        generator, discriminator, config, torch.device("cpu"), bf16=False
    )
    for batch in batch_indices(len(pictures), config.batch_size, num_steps, seed):
        real = torch.from_numpy(pictures[batch]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        real_logits, fake_logits = step(real)
    metrics = {  # of the last step, as `train_one_epoch` reports
        "d_acc_real": float((real_logits > 0).float().mean()),
        "d_acc_fake": float((fake_logits < 0).float().mean()),
    }
    z = torch.from_numpy(
        np.array(sampling.latent_noise(NOISE_SEED, num_samples, config.latent_dim))
    )
    generator.eval()  # BatchNorm running averages, as `gan.sample`
    with torch.no_grad():
        samples = generator(z[:, :, None, None]).permute(0, 2, 3, 1).numpy()
    return images.to_uint8(samples), metrics


def draw(rows: list[tuple[str, np.ndarray]]) -> Image.Image:
    """One labelled row of samples per entry."""
    label_height = 14
    grids = [images.make_grid(samples, columns=len(samples)) for _, samples in rows]
    width = max(grid.shape[1] for grid in grids)
    height = sum(grid.shape[0] + label_height for grid in grids)
    picture = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(picture)
    top = 0
    for (label, _), grid in zip(rows, grids, strict=True):
        pen.text((4, top + 1), label, fill="black")
        picture.paste(Image.fromarray(grid), (0, top + label_height))
        top += grid.shape[0] + label_height
    return picture


def main(argv):
    del argv
    out = pathlib.Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    names = FLAGS.variants or list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise app.UsageError(f"Unknown variants {unknown}; choose from {list(VARIANTS)}.")
    trainers = {"jax": train_one_epoch, "torch": train_one_epoch_torch}
    unknown = sorted(set(FLAGS.frameworks) - set(trainers))
    if unknown:
        raise app.UsageError(f"Unknown frameworks {unknown}; choose from {list(trainers)}.")
    recipe_variants = [name for name in names if VARIANTS[name][1]]
    if "torch" in FLAGS.frameworks and recipe_variants:
        raise app.UsageError(
            f"The PyTorch control trains the shipped recipe only; leave out the recipe variants "
            f"{recipe_variants}."
        )
    data = {VARIANTS[name][0]: None for name in names}
    for key in data:
        started = time.time()
        data[key] = render(key, FLAGS.num_images)
        print(f"{key}: {len(data[key]):,} images rendered in {time.time() - started:.1f} s")
    arrays = {f"real_{key}": pictures[: FLAGS.num_samples] for key, pictures in data.items()}
    rows = []
    for name in names:
        for framework in FLAGS.frameworks:
            for seed in map(int, FLAGS.seeds):
                started = time.time()
                pictures = data[VARIANTS[name][0]]
                samples, metrics = trainers[framework](
                    name, pictures, seed, FLAGS.num_steps, FLAGS.num_samples
                )
                run = name if framework == "jax" else f"{name}_{framework}"
                arrays[f"{run}_seed{seed}"] = samples
                label = (
                    f"{run}, seed {seed}: D accuracy on real "
                    f"{metrics['d_acc_real']:.2f}, on fake {metrics['d_acc_fake']:.2f}"
                )
                rows.append((label, samples))
                print(f"{label} ({time.time() - started:.1f} s)")
    np.savez_compressed(out / "samples.npz", **arrays)
    draw(rows).save(out / "one_epoch.png")


if __name__ == "__main__":
    define_flags()
    app.run(main)
