"""Times the full jitted DCGAN train step, optionally beside the same step in PyTorch.

    python -m benchmarks.train_step --config=configs/dcgan_paper.py --batch_size=64 --compare-torch

What is measured: `train_step` of gan/training/train.py (D update, then G update, metrics
included), jitted and sharded as its `train_and_evaluate` runs it, on one fixed random batch; no
dataset is read, so input-pipeline cost is left out. Compilation is timed on its own; then
`--warmup` steps run untimed and `--repeats` x `--steps` are timed, the clock read after the
device finishes each repeat. The step time reported is the median over repeats of the mean step
time; images/s is the global batch over it. Peak RSS is the process's, read after the JAX part.

Why a ratio: absolute times on a shared machine drift by 10-25% between runs, while the ratio
of two implementations measured in one sitting holds. `--compare-torch` times the equivalent
PyTorch DCGAN (`benchmarks.torch_dcgan`, same networks and update) in the same process and
ends with `img_per_s=... torch_img_per_s=... ratio=...`. The two parts run one after the other,
each with the whole machine; on a GPU, PyTorch gets the memory JAX did not preallocate.

`--xla-convolutions` times the same step with XLA's own convolution kernels in place of the
matrix products of `gan/models/strided_conv.py`, to measure what that formulation gains on a
machine.

Any config key can be overridden as in `gan.main` (`--config.ngf=32`); `--batch_size` and
`--image_size` are shortcuts for the two most often changed.

Several processes time one step together with the flags of `gan.main` (`--coordinator_address`,
`--num_processes`, `--process_id`); the README's "Scaling out" gives the command.
"""

import functools
import os

import jax
from absl import app, flags
from ml_collections import config_flags

from benchmarks import timing, xla_convolutions
from gan.cli import define_distributed_flags, entry_point, parse_flags, start_distributed
from gan.errors import UserError
from gan.training import train, validation

FLAGS = flags.FLAGS


config_flags.DEFINE_config_file(
    "config", "configs/dcgan.py", "Config file of the model to time.", lock_config=True
)
flags.DEFINE_integer("batch_size", None, "Global batch; overrides the config's.")
flags.DEFINE_integer("image_size", None, "32, 64 or 128; overrides the config's.")
flags.DEFINE_integer("steps", 10, "Timed steps per repeat.", lower_bound=1)
flags.DEFINE_integer("warmup", 2, "Untimed steps after compilation.", lower_bound=0)
flags.DEFINE_integer("repeats", 3, "Timed repeats; the median is kept.", lower_bound=1)
flags.DEFINE_bool("compare-torch", False, "Also time the PyTorch DCGAN step.")
flags.DEFINE_integer(
    "torch-threads", 0, "PyTorch intra-op CPU threads; 0 keeps torch's default.", lower_bound=0
)
flags.DEFINE_bool(
    "xla-convolutions",
    False,
    "Time the step with XLA's convolution kernels instead of gan/models/strided_conv's matrix "
    "products.",
)
flags.DEFINE_bool(
    "torch-bf16", False, "Also time PyTorch under bfloat16 autocast (reported, not in the ratio)."
)
define_distributed_flags()


def flag_timing() -> dict[str, int]:
    """`--warmup`, `--steps` and `--repeats` as keyword arguments of `time_jax`/`time_torch`."""
    return {"warmup": FLAGS.warmup, "steps": FLAGS.steps, "repeats": FLAGS.repeats}


def flax_param_counts(config) -> tuple[int, int]:
    """Generator and discriminator parameter counts, from shapes only (nothing is computed)."""
    state = jax.eval_shape(
        functools.partial(train.create_train_state, config), jax.random.PRNGKey(config.seed)
    )
    return tuple(
        sum(leaf.size for leaf in jax.tree.leaves(params))
        for params in (state.g_params, state.d_params)
    )


def time_torch(torch_dcgan, config, bf16: bool, *, warmup: int, steps: int, repeats: int) -> float:
    """Median step seconds of the PyTorch DCGAN step, fresh models and optimizers."""
    device = torch_dcgan.default_device()
    generator, discriminator = torch_dcgan.create_models(config)
    step = torch_dcgan.create_train_step(generator, discriminator, config, device, bf16)

    def run_steps(num_steps: int) -> None:
        for _ in range(num_steps):
            step()
        torch_dcgan.synchronize(device)

    return timing.median_step_seconds(run_steps, warmup=warmup, steps=steps, repeats=repeats)


def print_param_counts(torch_dcgan, config) -> None:
    """Prints both implementations' parameter counts: equal counts mean equal layer shapes."""
    ours = flax_param_counts(config)
    theirs = tuple(map(torch_dcgan.num_params, torch_dcgan.create_models(config)))
    print(
        f"params: generator flax={ours[0]:,} torch={theirs[0]:,}, discriminator "
        f"flax={ours[1]:,} torch={theirs[1]:,} ({'match' if ours == theirs else 'MISMATCH'})"
    )


# The recipe `benchmarks.torch_dcgan` trains, Radford et al.'s (configs/dcgan_paper.py); with
# any of these keys set otherwise the two sides would time different computations.
TORCH_RECIPE = {
    "model": "dcgan",
    "loss": "non_saturating",
    "d_norm": "batch",
    "d_spectral_norm": False,
    "d_packing": 1,
    "n_critic": 1,
    "gp_weight": 0.0,
    "r1_gamma": 0.0,
    "ema_decay": 0.0,
    "diffaugment": "",
    "num_classes": 0,
    "latent_codes": 0,
    "self_conditioning_clusters": 0,
    "g_self_modulation": False,
    "g_pixel_noise": False,
    "label_smoothing": 0.0,
    "learning_rate_decay": 1.0,
    "d_learning_rate": -1.0,
    "beta2": 0.999,
}


def check_torch_comparable(config) -> None:
    """Refuses a config whose step PyTorch's reference does not compute, naming the keys."""
    differing = [f"{key}={config[key]!r}" for key, v in TORCH_RECIPE.items() if config[key] != v]
    if differing:
        raise UserError(
            "--compare-torch times PyTorch's DCGAN, which trains the paper's recipe; this config "
            f"differs from it in {', '.join(differing)}, so the ratio would compare different "
            "steps. Use --config=configs/dcgan_paper.py (widths and batch may be changed) or "
            "set those keys to the paper's values."
        )


def report_torch(config) -> float:
    """Prints PyTorch's setup, parameter counts beside Flax's and step times; returns img/s."""
    try:
        from benchmarks import torch_dcgan  # torch is a benchmark extra, imported only here
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise UserError(
            "--compare-torch needs PyTorch, a benchmark extra: pip install -r "
            "requirements-bench.txt (or run without --compare-torch)."
        ) from None
    threads = torch_dcgan.set_num_threads(FLAGS["torch-threads"].value)
    print(
        f"torch: {torch_dcgan.torch.__version__}, device={torch_dcgan.default_device()}, "
        f"{threads} threads"
    )
    print_param_counts(torch_dcgan, config)
    step_s = time_torch(torch_dcgan, config, bf16=False, **flag_timing())
    print(f"torch fp32: median step {step_s:.4f} s, {config.batch_size / step_s:.1f} img/s")
    if FLAGS["torch-bf16"].value:
        bf16_s = time_torch(torch_dcgan, config, bf16=True, **flag_timing())
        print(
            f"torch bf16 autocast: median step {bf16_s:.4f} s, "
            f"{config.batch_size / bf16_s:.1f} img/s (not in the ratio)"
        )
    return config.batch_size / step_s


def report_jax(config) -> float:
    """Prints the JAX setup, compile and step times and peak RSS; returns img/s."""
    print(
        f"config: image_size={config.image_size} channels={config.num_channels} "
        f"latent_dim={config.latent_dim} ngf={config.ngf} ndf={config.ndf} "
        f"batch={config.batch_size}; {FLAGS.repeats} x {FLAGS.steps} timed steps "
        f"after {FLAGS.warmup} warm-up"
    )
    print(
        f"jax: {jax.__version__}, backend={jax.default_backend()}, {jax.device_count()} "
        f"device(s) ({jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores"
    )
    compile_s, step_s = timing.time_jax(config, **flag_timing())
    print(
        f"jax: compile {compile_s:.2f} s, median step {step_s:.4f} s, "
        f"{config.batch_size / step_s:.1f} img/s, peak RSS {timing.peak_rss_mb():.0f} MB"
    )
    return config.batch_size / step_s


@entry_point
def main(argv):
    start_distributed()
    config = FLAGS.config
    if FLAGS.batch_size is not None:
        config.batch_size = FLAGS.batch_size
    if FLAGS.image_size is not None:
        config.image_size = FLAGS.image_size
    validation.validate_config(config)
    if FLAGS["compare-torch"].value:
        check_torch_comparable(config)
    if FLAGS["xla-convolutions"].value:
        xla_convolutions.install()
    img_per_s = report_jax(config)
    if not FLAGS["compare-torch"].value:
        print(f"img_per_s={img_per_s:.1f}")
        return
    torch_img_per_s = report_torch(config)
    print(
        f"img_per_s={img_per_s:.1f} torch_img_per_s={torch_img_per_s:.1f} "
        f"ratio={img_per_s / torch_img_per_s:.2f}"
    )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
