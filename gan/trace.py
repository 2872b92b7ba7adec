"""Prediction-trace pictures of a trained run: what every stage of both networks computes for
a few inputs, and how the training went.

    python -m gan.trace --workdir=runs/dcgan
    python -m gan.trace --workdir=runs/dcgan --step=1000 --out=trace_1000 --num_noise=6

Writes three PNGs into --out (default WORKDIR/trace/):

  generator_stages.png        one row per noise vector: z as a colour strip, the output of every
                              generator stage (the DCGAN's after BatchNorm and ReLU; the ResNet's
                              4x4 input map and block outputs) as a mosaic of its channels, and
                              the generated image
  discriminator_features.png  one row per real image (the first of the run's dataset, through
                              the training pipeline): the image, D's feature map at every stage
                              (the ResNet's: every block's output) and D's output
  training_trace.png          WORKDIR/trace.csv against the step: D's and G's losses, D's
                              accuracy on real and generated images, epoch ends and the traced
                              checkpoint

In a mosaic each tile is one channel, scaled from black to white over all rows of the picture,
so a tile compares across rows (which input excites the channel) but not across channels, whose
scales differ widely. In a class-conditional run the noise vectors take the classes in turn and
D scores each real image with its own class. The first MAX_CHANNELS channels are drawn, so a
channel keeps its place from one checkpoint's pictures to the next. Both networks run in
inference mode (BatchNorm running averages, G's EMA weights when the run keeps them), as
`gan.sample` does, and the noise is a pure function of --seed. The PNGs have a 256-colour
palette: the mosaics' fine noise makes full-colour files about 4x larger, with no difference to
see.
"""

import csv
import pathlib

import jax
import matplotlib
import numpy as np
from absl import app, flags
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from gan import images
from gan.cli import entry_point
from gan.data import pipeline
from gan.errors import UserError
from gan.evaluation import protocol
from gan.models import dcgan, resnet, sampling
from gan.training import losses, restore, train

MAX_CHANNELS = 64  # channels drawn per stage: an 8x8 mosaic
# A channel's white: a high percentile rather than the maximum, so that one outlying pixel
# does not leave the rest of a sparse ReLU map black.
WHITE_PERCENTILE = 99.5
NOISE_RANGE = 3.0  # |z| at which the strip's colours saturate (z is standard normal)
STRIP_ASPECT = 10  # the noise strip is this many times wider than tall
SEPARATOR_RGB = (70, 100, 170)  # lines between tiles: unlike any grey, even a dead channel's
MOSAIC_NOTE = "each tile one channel, scaled per channel over all rows"
PANEL_INCHES = 2.2  # side of one picture in a figure
DPI = 128  # 2.2 in x 128 px, less margins: a 64-channel mosaic of 32x32 maps at its own size

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags, defined only when run as one: tests import the functions here."""
    flags.DEFINE_string("workdir", None, "Workdir of a training run (config.json, trace.csv).")
    flags.DEFINE_integer("step", None, "Checkpoint step to trace; the latest by default.")
    flags.DEFINE_string("out", None, "Directory for the three PNGs; WORKDIR/trace by default.")
    flags.DEFINE_integer("num_noise", 4, "Noise vectors traced through G.", lower_bound=1)
    flags.DEFINE_integer("num_real", 4, "Real images traced through D.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the noise vectors.")
    flags.mark_flag_as_required("workdir")


def read_trace(workdir: pathlib.Path) -> dict[str, np.ndarray]:
    """The columns of WORKDIR/trace.csv as float arrays, one value per reported row.

    Raises:
      UserError: the file is missing or has no row yet.
    """
    path = workdir / "trace.csv"
    rows = []
    if path.exists():
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    if not rows:
        raise UserError(
            f"No training trace in {str(workdir)!r}: {path.name} is missing or empty. "
            "`python -m gan.main` appends a row every log_every_steps, so train the run for at "
            "least that many steps, or pass the --workdir that gan.main was given."
        )
    return {key: np.array([float(row[key] or "nan") for row in rows]) for key in rows[0]}


def _in_flow_order(sown: dict, largest_first: bool) -> list[jax.Array]:
    """The sown stage outputs ordered by resolution: jit returns dicts with sorted keys, which
    puts features_16x16 before features_4x4."""
    maps = [values[0] for values in sown["intermediates"].values()]
    return sorted(maps, key=lambda x: x.shape[1], reverse=largest_first)


@jax.jit
def generator_stages(
    state: train.TrainState, z: jax.Array, labels: jax.Array | None = None
) -> tuple[jax.Array, list]:
    """G's images in [-1, 1] and its stage outputs, smallest first, as `sampling.generate` runs G
    (image i of class `labels[i]` for a class-conditional G)."""
    fake, sown = state.generator.apply(
        sampling.inference_variables(state),
        z,
        train=False,
        mutable=["intermediates"],
        **sampling.class_labels(labels),
    )
    return fake, _in_flow_order(sown, largest_first=False)


@jax.jit
def discriminator_stages(
    state: train.TrainState, real: jax.Array, labels: jax.Array | None = None
) -> tuple[jax.Array, list]:
    """D's logits and its stage feature maps, largest first, for images in [0, 1] (of classes
    `labels` for a class-conditional D; a packing D sees each image packed with copies of
    itself)."""
    variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    logits, sown = state.discriminator.apply(
        variables,
        dcgan.judged_alone(state.discriminator, real * 2.0 - 1.0),
        train=False,
        mutable=["intermediates"],
        **sampling.class_labels(labels),
    )
    return logits, _in_flow_order(sown, largest_first=True)


def channel_mosaics(maps: np.ndarray) -> np.ndarray:
    """One mosaic per input of (N, H, W, C) activations: a grey tile per channel, in a grid.

    Returns:
      uint8 (N, height, width, 3), at most MAX_CHANNELS tiles each, separated by lines of
      SEPARATOR_RGB.
    """
    maps = np.asarray(maps[..., :MAX_CHANNELS], np.float32)
    low, high = maps.min(axis=(0, 1, 2)), np.percentile(maps, WHITE_PERCENTILE, axis=(0, 1, 2))
    scaled = np.clip((maps - low) / np.maximum(high - low, 1e-12), 0.0, 1.0)  # constant: black
    tiles = np.moveaxis(np.rint(scaled * 255).astype(np.uint8), -1, 1)[..., None]  # N, C, H, W, 1
    grids = np.stack([images.make_grid(np.repeat(t, 3, axis=-1), padding=1) for t in tiles])
    # make_grid pads with black, as dark as a dead channel's tile: the lines get their own colour.
    inside = images.make_grid(np.full_like(tiles[0], 255), padding=1) > 0
    return np.where(inside, grids, np.array(SEPARATOR_RGB, np.uint8))


def noise_strips(z: np.ndarray) -> np.ndarray:
    """Each noise vector as a strip of colours: blue negative, white 0, red positive."""
    unit = np.clip(np.asarray(z) / NOISE_RANGE, -1.0, 1.0) * 0.5 + 0.5
    colours = np.rint(matplotlib.colormaps["coolwarm"](unit)[..., :3] * 255).astype(np.uint8)
    return np.repeat(colours[:, None], max(1, z.shape[1] // STRIP_ASPECT), axis=1)


def as_rgb(pictures: np.ndarray) -> np.ndarray:
    """uint8 NHWC with 1 or 3 channels as 3 channels, for figures that mix both."""
    return np.repeat(pictures, 3, axis=-1) if pictures.shape[-1] == 1 else pictures


def stage_title(maps: np.ndarray) -> str:
    """A mosaic's column title: the stage's shape and how many of its channels are drawn."""
    _, h, w, c = maps.shape
    shown = f"first {MAX_CHANNELS} of {c}" if c > MAX_CHANNELS else f"all {c}"
    return f"{h}x{w}x{c}\n{shown} channels"


def generator_columns(
    state: train.TrainState, z: jax.Array, labels: jax.Array | None = None
) -> tuple[list[str], list]:
    """The generator picture's column titles and columns (each (N, ...) pictures, N = len(z))."""
    fake, stages = jax.device_get(generator_stages(state, z, labels))
    _, h, w, c = fake.shape
    noise_title = f"noise z, 1x{z.shape[1]}\nblue < 0 < red"
    titles = [noise_title, *map(stage_title, stages), f"image\n{h}x{w}x{c}"]
    mosaics = [channel_mosaics(maps) for maps in stages]
    return titles, [noise_strips(np.asarray(z)), *mosaics, as_rgb(images.to_uint8(fake))]


def discriminator_columns(
    state: train.TrainState, real: np.ndarray, labels: np.ndarray | None = None
) -> tuple[list[str], list, np.ndarray]:
    """The discriminator picture's column titles, columns and D's logit for each uint8 image."""
    logits, stages = jax.device_get(discriminator_stages(state, pipeline.normalize(real), labels))
    _, h, w, c = real.shape
    titles = [f"real image\n{h}x{w}x{c}", *map(stage_title, stages)]
    return titles, [as_rgb(real), *map(channel_mosaics, stages)], logits


def draw_generator_stages(
    state: train.TrainState, z: jax.Array, caption: str, labels: jax.Array | None = None
) -> np.ndarray:
    """The generator picture: one row per noise vector (and class), from z to the image."""
    titles, columns = generator_columns(state, z, labels)
    row_labels = [f"z #{i}{_class_note(labels, i)}" for i in range(len(z))]
    if isinstance(state.generator, resnet.ResNetGenerator):
        stages = "Generator stages (the 4x4 input map, then each residual block's output)"
    else:
        stages = "Generator stages (after BatchNorm and ReLU)"
    title = f"{stages}, {caption}\n{MOSAIC_NOTE}"
    return draw_rows(columns, titles, row_labels, title)


def draw_discriminator_features(
    state: train.TrainState,
    real: np.ndarray,
    caption: str,
    labels: np.ndarray | None = None,
    loss: str = "non_saturating",
) -> np.ndarray:
    """The discriminator picture: one row per real image (scored with its class, if the run
    is class-conditional), from the image to D's last stage; D's output is read as `loss`
    reads it (see `losses.GanLoss`)."""
    titles, columns, logits = discriminator_columns(state, real, labels)
    objective = losses.get_loss(loss)
    output = "logit" if objective.logits else "output"
    row_labels = [
        f"real #{i}{_class_note(labels, i)}\nD {output} {logit:+.2f}"
        for i, logit in enumerate(logits)
    ]
    if objective.boundary is None:
        reading = "critic scores: higher is judged more real"
    else:
        reading = f"{output} > {objective.boundary:g}: judged real"
    title = f"Discriminator features of real images ({reading}), {caption}"
    return draw_rows(columns, titles, row_labels, f"{title}\n{MOSAIC_NOTE}")


def _class_note(labels, index: int) -> str:
    return "" if labels is None else f", class {int(labels[index])}"


def draw_rows(columns: list, titles: list[str], row_labels: list[str], title: str) -> np.ndarray:
    """Lays out columns of pictures as a grid, one row per input, with labels; renders it.

    Returns:
      uint8 RGB (height, width, 3).
    """
    rows, cols = len(row_labels), len(columns)
    figure = Figure(
        figsize=(PANEL_INCHES * cols, PANEL_INCHES * rows + 1.0), dpi=DPI, layout="constrained"
    )
    axes = figure.subplots(rows, cols, squeeze=False)
    for col, pictures in enumerate(columns):
        axes[0, col].set_title(titles[col], fontsize=10)
        for row, picture in enumerate(pictures):
            axes[row, col].imshow(picture, interpolation="nearest")
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    for row, label in enumerate(row_labels):
        axes[row, 0].set_ylabel(label, fontsize=10)
    figure.suptitle(title, fontsize=11)
    return render(figure)


def render(figure: Figure) -> np.ndarray:
    """Draws a figure off screen (Agg) into uint8 RGB, so no display or pyplot state is needed."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_training_trace(trace: dict[str, np.ndarray], traced_step: int, title: str) -> np.ndarray:
    """Losses and D's accuracies against the step, with epoch ends and the traced checkpoint."""
    figure = Figure(figsize=(9.0, 6.5), dpi=DPI, layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(2, 1, sharex=True)
    steps = trace["step"]
    loss_axes.plot(steps, trace["d_loss"], label="D loss")
    loss_axes.plot(steps, trace["g_loss"], label="G loss")
    accuracy_axes.plot(steps, trace["d_acc_real"], label="D accuracy on real images")
    accuracy_axes.plot(steps, trace["d_acc_fake"], label="D accuracy on generated images")
    accuracy_axes.axhline(0.5, color="grey", linewidth=0.8, label="chance")
    lowest = np.nanmin([trace["d_acc_real"], trace["d_acc_fake"]])
    accuracy_axes.set_ylim(min(0.45, lowest - 0.03), 1.01)
    for axes in (loss_axes, accuracy_axes):
        # A wide pale band, so that the traced step's line stays visible on an epoch's end.
        for index, step in enumerate(steps[trace["epoch_end"] == 1]):
            label = None if index else "epoch end"
            axes.axvline(step, color="grey", linewidth=5, alpha=0.3, label=label)
        traced = f"traced: step {traced_step}"
        axes.axvline(traced_step, color="black", linestyle="--", label=traced)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=9, loc="best")
    loss_axes.set_ylabel("loss (mean over the steps of a row)")
    accuracy_axes.set_ylabel("accuracy (threshold 1/2)")
    accuracy_axes.set_xlabel("step")
    figure.suptitle(title, fontsize=11)
    return render(figure)


def save_palette_png(picture: np.ndarray, path: pathlib.Path) -> None:
    """Writes uint8 RGB as a 256-colour PNG (see the module docstring for why)."""
    palette = Image.fromarray(picture).quantize(
        256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    palette.save(path, optimize=True)


def write_trace(
    workdir: pathlib.Path,
    out: pathlib.Path,
    step: int | None,
    num_noise: int,
    num_real: int,
    seed: int,
) -> list[pathlib.Path]:
    """Restores the run at `step` (None: the latest) and writes the three pictures into `out`.

    Raises:
      UserError: no run, checkpoint or trace.csv in `workdir`.
    """
    config = restore.load_run_config(workdir)
    trace = read_trace(workdir)  # before the restore, which takes a while for a large run
    state = restore.restore_for_sampling(workdir, step)
    step = int(state.step)
    z = sampling.latent_noise(seed, num_noise, state.generator.latent_dim)
    z_labels = sampling.drawn_labels(state, num_noise)
    real, real_labels = protocol.real_examples(config, config.split, num_real)
    caption = f"{workdir} step {step}"
    pictures = {
        "generator_stages.png": draw_generator_stages(
            state, z, f"{caption}, seed {seed}", z_labels
        ),
        "discriminator_features.png": draw_discriminator_features(
            state, real, caption, real_labels, config.loss
        ),
        "training_trace.png": plot_training_trace(
            trace, step, f"Training trace of {workdir} ({config.loss} loss)"
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, picture in pictures.items():
        save_palette_png(picture, out / name)
    return [out / name for name in pictures]


@entry_point
def main(argv):
    workdir = pathlib.Path(FLAGS.workdir)
    out = pathlib.Path(FLAGS.out) if FLAGS.out else workdir / "trace"
    paths = write_trace(workdir, out, FLAGS.step, FLAGS.num_noise, FLAGS.num_real, FLAGS.seed)
    print(f"Wrote {', '.join(map(str, paths))}")


def run() -> None:
    """The `gan-trace` console script."""
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
