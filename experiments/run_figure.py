"""The README's first picture: real images beside a run's fixed-noise grids, each captioned.

    python -m experiments.run_figure --out=docs/images/default_run.png \
        --run=runs/dcgan --steps=500,1500,3000 --compare=runs/dcgan_paper --compare_step=1500

Each grid is the run's own `samples/step_<step>.png` (64 images from the same noise), captioned
with its step, the wall time of training at that step (trace.csv's elapsed_s, summed over the
invocations of a resumed run) and the share of
its 64 images the recognisability measure (`gan.evaluation.recognisability`) calls
recognisable, with the evaluation's figure over more samples when WORKDIR/eval.jsonl holds one
at that step. With `--compare`, a second run's grid at `--compare_step` is appended (the
paper's recipe beside the default, same noise seed).
"""

import csv
import json
import pathlib

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

from gan.data import procedural_shapes
from gan.evaluation import recognisability

FLAGS = flags.FLAGS
TILE, PADDING = 64, 2  # gan.training.train writes 8x8 grids of 64 px images with 2 px borders
CAPTION_HEIGHT = 44


def grid_images(path: pathlib.Path) -> np.ndarray:
    """The (64, 64, 64, 3) images of a sample grid PNG written by `gan.training.train`."""
    grid = np.asarray(Image.open(path).convert("RGB"))
    tiles = []
    for top in range(PADDING, grid.shape[0] - TILE + 1, TILE + PADDING):
        for left in range(PADDING, grid.shape[1] - TILE + 1, TILE + PADDING):
            tiles.append(grid[top : top + TILE, left : left + TILE])
    return np.stack(tiles)


def elapsed_at(workdir: pathlib.Path, step: int) -> float:
    """Seconds of training up to `step`, from trace.csv (nan if no row has it), summed over the
    invocations of a resumed run: each restarts elapsed_s at 0."""
    earlier, previous, at_step = 0.0, 0.0, float("nan")
    with (workdir / "trace.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            elapsed = float(row["elapsed_s"])
            if elapsed < previous:  # a new invocation
                earlier += previous
            previous = elapsed
            if int(row["step"]) == step:
                at_step = earlier + elapsed
    return at_step


def evaluation_at(workdir: pathlib.Path, step: int, metric: str = "recognisable") -> dict:
    """The last evaluation of `step` in eval.jsonl that holds `metric`, or {}."""
    path = workdir / "eval.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    lines = [line for line in lines if line["step"] == step and metric in line]
    return lines[-1] if lines else {}


def caption(workdir: pathlib.Path, step: int, name: str) -> tuple[str, np.ndarray]:
    """The caption of a run's grid at `step`, and the grid's images."""
    pictures = grid_images(workdir / "samples" / f"step_{step:07d}.png")
    share = recognisability.summarise(recognisability.shape_fits(pictures))["recognisable"]
    minutes = elapsed_at(workdir, step) / 60
    lines = [f"{name}, step {step:,}", f"{minutes:.0f} min of training", f"grid: {share:.0%}"]
    result = evaluation_at(workdir, step)
    if result:
        lines[-1] += f"; {result['protocol']['num_generated']:,}: {result['recognisable']:.0%}"
    lines[-1] += " recognisable"
    return "\n".join(lines), pictures


def tiled(pictures: np.ndarray, columns: int = 8) -> Image.Image:
    rows = -(-len(pictures) // columns)
    size = (columns * (TILE + PADDING) + PADDING, rows * (TILE + PADDING) + PADDING)
    picture = Image.new("RGB", size, "black")
    for index, image in enumerate(pictures):
        top, left = divmod(index, columns)
        position = (PADDING + left * (TILE + PADDING), PADDING + top * (TILE + PADDING))
        picture.paste(Image.fromarray(image), position)
    return picture


def compose(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Pictures side by side, each with its caption above."""
    gap = 8
    width = sum(picture.width for _, picture in panels) + gap * (len(panels) - 1)
    height = max(picture.height for _, picture in panels)
    figure = Image.new("RGB", (width, CAPTION_HEIGHT + height), "white")
    pen = ImageDraw.Draw(figure)
    left = 0
    for text, picture in panels:
        pen.multiline_text((left + 2, 2), text, fill="black")
        figure.paste(picture, (left, CAPTION_HEIGHT))
        left += picture.width + gap
    return figure


def main(argv):
    del argv
    real = np.stack([procedural_shapes.make_example("train", i)[0] for i in range(64)])
    share = recognisability.summarise(recognisability.shape_fits(real))["recognisable"]
    panels = [(f"real training images\n\ngrid: {share:.0%} recognisable", real)]
    run = pathlib.Path(FLAGS.run)
    panels += [caption(run, int(step), FLAGS.run_name) for step in FLAGS.steps]
    if FLAGS.compare:
        panels.append(caption(pathlib.Path(FLAGS.compare), FLAGS.compare_step, FLAGS.compare_name))
    out = pathlib.Path(FLAGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compose([(text, tiled(pictures)) for text, pictures in panels]).save(out)
    for text, _ in panels:
        print(text.replace("\n", "; "))


if __name__ == "__main__":
    flags.DEFINE_string("out", None, "Output PNG.")
    flags.DEFINE_string("run", None, "Workdir of the run shown.")
    flags.DEFINE_string("run_name", "configs/dcgan.py", "Its name in the captions.")
    flags.DEFINE_list("steps", None, "Steps of its grids.")
    flags.DEFINE_string("compare", None, "Workdir of a run shown beside it at --compare_step.")
    flags.DEFINE_string("compare_name", "configs/dcgan_paper.py", "Its name in the captions.")
    flags.DEFINE_integer("compare_step", None, "Step of the compared run's grid.")
    flags.mark_flags_as_required(["out", "run", "steps"])
    app.run(main)
