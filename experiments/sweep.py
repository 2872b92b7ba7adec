"""Hyperparameter sweeps: a grid or a seeded random search over config overrides.

    python -m experiments.sweep --sweep=experiments/loss_sweep.py --workdir=runs/loss_sweep
    python -m experiments.sweep --sweep=experiments/loss_sweep.py --workdir=runs/loss_sweep \
        --print_commands   # one command per trial, for a cluster scheduler

A sweep file defines `get_sweep()` returning a `Sweep`: a base config file, the axes to vary
(`search="grid"`: every combination; `"random"`: `num_trials` draws seeded by `search_seed`,
each axis a list of choices or a `LogUniform`/`Uniform` range), fixed overrides, and the seeds.
Seeds are an axis of their own: every point of the search runs once per seed, and the summary
reports mean ± std over them, since seed variance dominates GAN comparisons (Lucic et al. 2018).

Each trial trains in WORKDIR/NNN_<overrides> through `gan.training.train.train_and_evaluate`
and, once finished, leaves `trial.json` there. Running the sweep again skips finished trials and
resumes an interrupted one from its newest checkpoint. After every trial the summary is rewritten:
WORKDIR/summary.md and summary.csv (one row per point, seeds aggregated, sorted by the primary
metric) and trials.csv (one row per trial): final losses, images/s, wall time, and the metrics
of a trial's eval.jsonl once it has been scored (`python -m gan.evaluate
--workdir=WORKDIR/TRIAL`; rerun the sweep command to refresh the tables). WORKDIR itself holds
the TensorBoard HParams set-up naming the swept axes, so `tensorboard --logdir=WORKDIR` compares
the trials in its HParams tab.
"""

import csv
import dataclasses
import importlib.util
import itertools
import json
import math
import pathlib
import re
import shlex
import time
from collections.abc import Sequence

import numpy as np
from absl import app, flags, logging
from PIL import Image, ImageDraw, ImageFont

from gan.cli import entry_point
from gan.errors import UserError
from gan.training import train, validation

SUMMARY_COLUMNS = ("d_loss", "g_loss", "img_per_s", "wall_s")  # from every trial's trace
TRIAL_FILE = "trial.json"  # written into a trial's workdir when it has finished
EVALUATION_FILE = "eval.jsonl"  # what `python -m gan.evaluate` appends to, one line per run

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags, defined only when run as one: sweep files import this module."""
    flags.DEFINE_string("sweep", None, "Sweep file: a Python file with get_sweep().")
    flags.DEFINE_string("workdir", None, "Directory of the sweep; one sub-directory per trial.")
    flags.DEFINE_bool("print_commands", False, "Print one command per trial instead of running.")
    flags.DEFINE_integer("trial", None, "Run only the trial with this index (--print_commands).")
    flags.mark_flags_as_required(["sweep", "workdir"])


@dataclasses.dataclass(frozen=True)
class LogUniform:
    """A random-search range sampled uniformly in log space (learning rates, penalty weights)."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))


@dataclasses.dataclass(frozen=True)
class Uniform:
    """A random-search range sampled uniformly."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


SEARCHES = ("grid", "random")


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What a sweep file describes.

    Attributes:
      config: the base config file, e.g. "configs/dcgan.py".
      axes: config key -> list of values (grid, or choices of a random search) or a
        `LogUniform`/`Uniform` range (random search only).
      seeds: values of `config.seed`; every point of the search runs once per seed.
      search: "grid" or "random".
      num_trials: points drawn by a random search (each then run for every seed).
      search_seed: seeds the random search, so the trials are the same on every invocation.
      overrides: config keys set in every trial (a shorter schedule, a data dir, ...).
      overrides_when: (axis, value) -> config keys set in the trials where that axis takes
        that value, e.g. {("config", "configs/big.py"): {"batch_size": 32}}: what one recipe
        of a comparison needs and the others must not get. Applied after `overrides`.
      primary_metric: summary column the table is sorted by ("g_loss", "eval/fid", ...).
      maximize: sort descending (for metrics where higher is better, such as IS).
    """

    config: str
    axes: dict
    seeds: Sequence[int] = (0,)
    search: str = "grid"
    num_trials: int = 0
    search_seed: int = 0
    overrides: dict = dataclasses.field(default_factory=dict)
    overrides_when: dict = dataclasses.field(default_factory=dict)
    primary_metric: str = "g_loss"
    maximize: bool = False

    def __post_init__(self):
        """Refuses a search a typo would silently turn into another."""
        if self.search not in SEARCHES:
            raise UserError(f"Sweep search={self.search!r}: use one of {', '.join(SEARCHES)}.")
        if self.search == "random" and self.num_trials <= 0:
            raise UserError("A random search needs num_trials > 0 points to draw.")
        ranges = [key for key, axis in self.axes.items() if hasattr(axis, "sample")]
        if self.search == "grid" and ranges:
            raise UserError(
                f"The axes {', '.join(ranges)} are ranges, which only a random search samples: "
                'list values for a grid, or set search="random" and num_trials.'
            )
        for axis, value in self.overrides_when:
            choices = self.axes.get(axis, ())
            if hasattr(choices, "sample") or value not in choices:
                raise UserError(
                    f"overrides_when names {axis}={value!r}, which is not a listed value of an "
                    f"axis of this sweep, so those overrides would never apply."
                )


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training run of a sweep: its index, sub-directory name and config overrides."""

    index: int
    name: str
    overrides: dict  # the swept keys and the seed (not the sweep's fixed overrides)


def load_sweep(path: str) -> Sweep:
    """Runs the sweep file and returns its `get_sweep()`."""
    file = pathlib.Path(path)
    if not file.is_file():
        raise UserError(f"No sweep file {path!r}: pass --sweep=experiments/NAME.py.")
    spec = importlib.util.spec_from_file_location(f"sweep_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_sweep"):
        raise UserError(f"The sweep file {path!r} defines no get_sweep() returning a Sweep.")
    return module.get_sweep()


def search_points(sweep: Sweep) -> list[dict]:
    """The points of the search (without seeds), in a fixed order."""
    if sweep.search == "grid":
        keys = list(sweep.axes)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*sweep.axes.values())
        ]
    rng = np.random.default_rng(sweep.search_seed)
    return [
        {
            key: axis.sample(rng) if hasattr(axis, "sample") else axis[rng.integers(len(axis))]
            for key, axis in sweep.axes.items()
        }
        for _ in range(sweep.num_trials)
    ]


def _slug(overrides: dict) -> str:
    text = ",".join(f"{key}={_format(value)}" for key, value in overrides.items())
    return re.sub(r"[^A-Za-z0-9_.,=-]+", "-", text)[:120]


def _format(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def create_trials(sweep: Sweep) -> list[Trial]:
    """Every (point, seed) pair, numbered; seeds vary fastest so a point's seeds sit together."""
    pairs = itertools.product(search_points(sweep), sweep.seeds)
    return [
        Trial(index, f"{index:03d}_{_slug(point | {'seed': seed})}", point | {"seed": seed})
        for index, (point, seed) in enumerate(pairs)
    ]


def trial_config(sweep: Sweep, trial: Trial):
    """The base config with the sweep's fixed overrides and the trial's own applied.

    An axis or override named `config` replaces the base config file itself, so one sweep can
    compare recipes (configs/*.py) under the same budget. `sweep.overrides_when` adds the keys
    that go with the trial's axis values.

    Raises:
      UserError: the config file is missing, or an override names a key it does not have.
    """
    settings = dict(sweep.overrides)
    for (axis, value), extra in sweep.overrides_when.items():
        if trial.overrides.get(axis) == value:
            settings |= extra
    settings |= trial.overrides
    path = pathlib.Path(settings.pop("config", sweep.config))
    if not path.is_file():
        raise UserError(f"The sweep's config file {str(path)!r} does not exist.")
    spec = importlib.util.spec_from_file_location(f"sweep_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    for key, value in settings.items():
        if key not in config:
            raise UserError(
                f"The sweep overrides {key!r}, which {path} does not have: fix the sweep "
                "file's axes or overrides."
            )
        config[key] = value
    return config


def trial_command(sweep_path: str, workdir: str, trial: Trial) -> str:
    """The shell command that runs one trial (what --print_commands prints)."""
    return shlex.join(
        [
            "python",
            "-m",
            "experiments.sweep",
            f"--sweep={sweep_path}",
            f"--workdir={workdir}",
            f"--trial={trial.index}",
        ]
    )


def run_trial(sweep: Sweep, trial: Trial, workdir: pathlib.Path) -> dict:
    """Trains one trial into WORKDIR/NAME (resuming it if interrupted) unless it has finished.

    Returns:
      The trial's record in its trial.json: index, name, overrides and wall time (of the
      invocation that finished it).
    """
    trial_dir = workdir / trial.name
    done = trial_dir / TRIAL_FILE
    if done.exists():
        return json.loads(done.read_text())
    config = trial_config(sweep, trial)
    started = time.perf_counter()
    train.train_and_evaluate(config, str(trial_dir))
    record = {
        "index": trial.index,
        "name": trial.name,
        "overrides": trial.overrides,
        "wall_s": time.perf_counter() - started,
    }
    done.write_text(json.dumps(record, indent=2) + "\n")
    return record


def final_metrics(trial_dir: pathlib.Path) -> dict:
    """The last trace row's losses, the mean throughput after the first row (compilation), and
    the numbers of the newest line of EVALUATION_FILE if the trial has been evaluated."""
    with (trial_dir / "trace.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    speeds = [float(row["img_per_s"]) for row in rows[1:] or rows]
    metrics = {
        "d_loss": float(rows[-1]["d_loss"]),
        "g_loss": float(rows[-1]["g_loss"]),
        "img_per_s": float(np.mean(speeds)),
    }
    evaluations = trial_dir / EVALUATION_FILE
    if evaluations.exists():
        newest = json.loads(evaluations.read_text().strip().splitlines()[-1])
        metrics |= {
            f"eval/{key}": float(value)
            for key, value in newest.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "step"
        }
    return metrics


def summarize(sweep: Sweep, records: list[dict], workdir: pathlib.Path) -> list[dict]:
    """Writes trials.csv, summary.csv and summary.md; returns the summary rows.

    Trials that differ only in their seed form one row; every metric becomes its mean and
    sample standard deviation over them. Rows are sorted by `sweep.primary_metric`.
    """
    metric_keys = sorted(
        {key for r in records for key in r if key in SUMMARY_COLUMNS or "/" in key}
    )
    axes = list(sweep.axes)
    _write_csv(
        workdir / "trials.csv",
        ["index", "name", *axes, "seed", *metric_keys],
        [{"index": r["index"], "name": r["name"], **r["overrides"], **r} for r in records],
    )
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        point = tuple(record["overrides"][key] for key in axes)
        groups.setdefault(point, []).append(record)
    rows = []
    for point, members in groups.items():
        row = dict(zip(axes, point, strict=True)) | {"seeds": len(members)}
        for key in metric_keys:
            values = [m[key] for m in members if key in m]
            row[f"{key}_mean"] = float(np.mean(values)) if values else math.nan
            row[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    primary = f"{sweep.primary_metric}_mean"
    sign = -1.0 if sweep.maximize else 1.0
    rows.sort(
        key=lambda row: (math.isnan(row.get(primary, math.nan)), sign * row.get(primary, 0.0))
    )
    columns = [*axes, "seeds"] + [
        f"{key}_{stat}" for key in metric_keys for stat in ("mean", "std")
    ]
    _write_csv(workdir / "summary.csv", columns, rows)
    (workdir / "summary.md").write_text(markdown_table(sweep, axes, metric_keys, rows))
    return rows


def markdown_table(sweep: Sweep, axes: list[str], metric_keys: list[str], rows: list[dict]) -> str:
    """The summary as a Markdown table, metrics as mean ± std over the seeds."""
    order = "descending" if sweep.maximize else "ascending"
    lines = [
        f"Sweep over {', '.join(axes)} on {sweep.config}; seeds {list(sweep.seeds)}; "
        f"sorted by {sweep.primary_metric} ({order}).",
        "",
        "| " + " | ".join([*axes, "seeds", *metric_keys]) + " |",
        "|" + "---|" * (len(axes) + 1 + len(metric_keys)),
    ]
    for row in rows:
        cells = [_format(row[key]) for key in axes] + [str(row["seeds"])]
        for key in metric_keys:
            mean, std = row[f"{key}_mean"], row[f"{key}_std"]
            cells.append(f"{mean:.4g} ± {std:.2g}" if row["seeds"] > 1 else f"{mean:.4g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_csv(path: pathlib.Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_hparams_config(sweep: Sweep, workdir: pathlib.Path) -> None:
    """Declares the swept axes and the trace metrics to TensorBoard's HParams plugin, so its
    table and parallel-coordinates views compare the trials (whose runs log their configs)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    hparams = [hp.HParam(key) for key in [*sweep.axes, "seed"]]
    metrics = [hp.Metric(f"train/{key}") for key in ("d_loss", "g_loss", "img_per_s")]
    with tf.summary.create_file_writer(str(workdir)).as_default():
        hp.hparams_config(hparams=hparams, metrics=metrics)


def run_sweep(sweep_path: str, workdir: str, only_trial: int | None = None) -> list[dict]:
    """Runs every unfinished trial (or just `only_trial`) in order, then summarises.

    Returns:
      The summary rows, best first.
    """
    sweep = load_sweep(sweep_path)
    trials = create_trials(sweep)
    root = validation.prepare_workdir(workdir)
    write_hparams_config(sweep, root)
    for trial in trials:
        if only_trial is None or trial.index == only_trial:
            logging.info("Trial %d of %d: %s", trial.index + 1, len(trials), trial.name)
            run_trial(sweep, trial, root)
    records = [
        json.loads((root / t.name / TRIAL_FILE).read_text()) | final_metrics(root / t.name)
        for t in trials
        if (root / t.name / TRIAL_FILE).exists()
    ]
    rows = summarize(sweep, records, root)
    write_sample_overview(sweep, rows, records, root)
    return rows


def write_sample_overview(
    sweep: Sweep, rows: list[dict], records: list[dict], workdir: pathlib.Path
) -> None:
    """WORKDIR/samples.png: the newest sample grid of each point's lowest seed, titled with the
    point and in the summary's order, so the points' pictures compare at a glance."""
    axes = list(sweep.axes)
    panels = []
    for row in rows:
        members = [r for r in records if all(r["overrides"][key] == row[key] for key in axes)]
        first = min(members, key=lambda record: record["overrides"]["seed"])
        grids = sorted((workdir / first["name"] / "samples").glob("step_*.png"))
        if grids:
            title = ", ".join(_point_label(key, row[key]) for key in axes)
            with Image.open(grids[-1]) as grid:
                panels.append((title, grid.convert("RGB")))
    if not panels:
        return
    font = ImageFont.load_default(size=16)
    title_height, gap = 24, 8
    width = max(picture.width for _, picture in panels)
    height = max(picture.height for _, picture in panels)
    overview = Image.new("RGB", (len(panels) * (width + gap) - gap, title_height + height), "white")
    pen = ImageDraw.Draw(overview)
    for index, (title, picture) in enumerate(panels):
        left = index * (width + gap)
        pen.text((left + width / 2, title_height / 2), title, fill="black", font=font, anchor="mm")
        overview.paste(picture, (left, title_height))
    overview.save(workdir / "samples.png")


def _point_label(key: str, value) -> str:
    """`config` axes by their file's stem (the recipe's name), other axes as key=value."""
    return pathlib.Path(value).stem if key == "config" else f"{key}={_format(value)}"


@entry_point
def main(argv):
    del argv
    if FLAGS.print_commands:
        for trial in create_trials(load_sweep(FLAGS.sweep)):
            print(trial_command(FLAGS.sweep, FLAGS.workdir, trial))
        return
    rows = run_sweep(FLAGS.sweep, FLAGS.workdir, FLAGS.trial)
    print((pathlib.Path(FLAGS.workdir) / "summary.md").read_text(), end="")
    logging.info("%d points summarised in %s", len(rows), FLAGS.workdir)


if __name__ == "__main__":
    define_flags()
    app.run(main)
