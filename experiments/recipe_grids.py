"""Several runs' sample grids at one step side by side, with their FID and coverage.

    python -m experiments.recipe_grids --out=docs/images/recipes_32px_3000steps.png \
        --runs=runs/diag_dcgan_paper,runs/diag_lsgan,runs/diag_dcgan_hinge_sn --step=3000

For runs of any image size (the README's figure, `experiments.run_figure`, scores 64x64 grids
for recognisability; this one shows what a recipe draws at another size). Each caption names
the run (its workdir) and, where WORKDIR/eval.jsonl holds an evaluation at that step with them, its
FID and factor coverage; the same numbers are printed as a markdown table.
"""

import pathlib

from absl import app, flags
from PIL import Image

from experiments.run_figure import compose, evaluation_at
from gan.training import restore

FLAGS = flags.FLAGS


def panel(workdir: pathlib.Path, step: int) -> tuple[str, Image.Image, str]:
    """A run's caption, its grid at `step` and its row of the table."""
    config = restore.load_run_config(workdir)
    scores = evaluation_at(workdir, step, "fid")
    fid, coverage = scores.get("fid", float("nan")), scores.get("coverage", float("nan"))
    text = f"{workdir.name}\nstep {step:,}\nFID {fid:,.0f}, coverage {coverage:.3f}"
    row = f"| {workdir.name} | {config.loss} | {step:,} | {fid:,.0f} | {coverage:.3f} |"
    grid = Image.open(workdir / "samples" / f"step_{step:07d}.png").convert("RGB")
    return text, grid, row


def main(argv):
    del argv
    panels = [panel(pathlib.Path(run), FLAGS.step) for run in FLAGS.runs]
    out = pathlib.Path(FLAGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compose([(text, grid) for text, grid, _ in panels]).save(out)
    print("| run | loss | step | FID | coverage |\n|---|---|---|---|---|")
    print("\n".join(row for _, _, row in panels))


if __name__ == "__main__":
    flags.DEFINE_string("out", None, "Output PNG.")
    flags.DEFINE_list("runs", None, "Workdirs of the runs shown, in order.")
    flags.DEFINE_integer("step", None, "Step of every grid.")
    flags.mark_flags_as_required(["out", "runs", "step"])
    app.run(main)
