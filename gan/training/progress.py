"""The training trace: a console table, `trace.csv` and TensorBoard scalars, from one source.

Step metrics stay on the device until a report is due, so logging never makes the host wait
for a step: the only synchronisation is one transfer per report. A report averages the
metrics of every step since the previous one and refuses non-finite values. A game that has
ended without a NaN (D rejecting everything with certainty, G's gradient gone) is flagged too:
such a run would otherwise train on for hours and learn nothing.
"""

import csv
import math
import pathlib
import time

import jax
import numpy as np
from absl import logging

from gan.errors import UserError

# (metric key, console header, console format) in display order.
METRIC_COLUMNS = (
    ("d_loss", "d_loss", "{:8.4f}"),
    ("g_loss", "g_loss", "{:8.4f}"),
    ("d_acc_real", "acc_real", "{:8.3f}"),
    ("d_acc_fake", "acc_fake", "{:8.3f}"),
    ("d_real", "D(x)", "{:7.3f}"),
    ("d_fake", "D(G(z))", "{:7.3f}"),
    ("g_grad_norm", "|grad G|", "{:8.3f}"),
    ("d_grad_norm", "|grad D|", "{:8.3f}"),
)
# Scores of an evaluation during training, written (prefixed "eval_") on the row of its step.
EVAL_FIELDS = (
    "recognisable",
    "shape_fit",
    "fid",
    "coverage",
    "factor_kl",
    "precision",
    "recall",
    "label_accuracy",
    "recognisable_as_label",
)
CSV_FIELDS = (
    ("epoch", "step", "epoch_end")
    + tuple(k for k, _, _ in METRIC_COLUMNS)
    + ("img_per_s", "elapsed_s", "diverged")
    + tuple(f"eval_{k}" for k in EVAL_FIELDS)
)
# A report's means that show a game D has won for good: its loss is ~0, it classifies every
# real and generated image correctly, and G's gradient has vanished (what a learning rate of
# 1e4 gives). Healthy runs, even ones D dominates, keep |grad G| well above this.
DIVERGED_D_LOSS = 1e-3
DIVERGED_ACCURACY = 0.999
DIVERGED_G_GRAD_NORM = 1e-3


class TrainingDiverged(UserError):
    """A loss or gradient norm became NaN or infinite, or the game ended (`stop_on_divergence`)."""


def game_is_over(means: dict[str, float]) -> bool:
    """Whether a report's means show D winning for good and G no longer learning."""
    return (
        means["d_loss"] < DIVERGED_D_LOSS
        and min(means["d_acc_real"], means["d_acc_fake"]) >= DIVERGED_ACCURACY
        and means["g_grad_norm"] < DIVERGED_G_GRAD_NORM
    )


def format_duration(seconds: float) -> str:
    """Seconds as H:MM:SS; '-' when unknown."""
    if not math.isfinite(seconds):
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class TrainingTrace:
    """Collects per-step metrics and reports them as table rows, CSV rows and scalars.

    Args:
      writer: a `clu.metric_writers` writer (TensorBoard on process 0).
      workdir: where `trace.csv` is appended.
      num_steps: the step the run ends at, for the ETA.
      steps_per_epoch: steps in one pass over the data.
      batch_size: global images per step.
      start_step: the step training starts (or resumes) from.
      is_chief: whether this process prints and writes files.
      divergence_reports: after this many reports in a row where `game_is_over`, the run is
        marked diverged (a warning, and 1 in trace.csv's `diverged` column); 0 never does.
      stop_on_divergence: then also stop, raising `TrainingDiverged`.
    """

    def __init__(
        self,
        writer,
        workdir: pathlib.Path,
        num_steps: int,
        steps_per_epoch: int,
        batch_size: int,
        start_step: int,
        is_chief: bool,
        divergence_reports: int = 0,
        stop_on_divergence: bool = False,
    ):
        self._writer = writer
        self._csv_path = workdir / "trace.csv"
        self._num_steps = num_steps
        self._steps_per_epoch = steps_per_epoch
        self._batch_size = batch_size
        self._is_chief = is_chief
        self._pending: list[dict] = []
        self._evaluation: dict[str, float] = {}
        self._last_reported = start_step
        self._clock_step = start_step
        self._start_time = self._clock_time = time.perf_counter()
        self._rows_printed = 0
        self._divergence_reports = divergence_reports
        self._stop_on_divergence = stop_on_divergence
        self._game_over_reports = 0
        if is_chief:
            _truncate_csv(self._csv_path, after_step=start_step)

    def record(self, metrics: dict[str, jax.Array]) -> None:
        """Keeps one step's metrics (device arrays; no host synchronisation)."""
        self._pending.append(metrics)

    def restart_clock(self, step: int) -> None:
        """Measures throughput from `step` on, e.g. once the first step has compiled."""
        self._clock_step, self._clock_time = step, time.perf_counter()

    def add_evaluation(self, scores: dict, seconds: float) -> None:
        """Puts an evaluation's scores on the next row (the evaluated step's) of `trace.csv`,
        and keeps the `seconds` it took out of the throughput."""
        self._evaluation = {f"eval_{k}": scores[k] for k in EVAL_FIELDS if k in scores}
        self._clock_time += seconds

    def report(self, step: int) -> dict[str, float]:
        """Averages the metrics since the last report and writes one row everywhere, with the
        scores of an evaluation added since the last row.

        Raises:
          TrainingDiverged: a metric in the window is NaN or infinite.
        """
        if not self._pending:
            return {}
        window = jax.device_get(self._pending)
        self._pending = []
        means = {key: float(np.mean([m[key] for m in window])) for key in window[0]}
        bad = sorted(k for k, v in means.items() if not math.isfinite(v))
        if bad:
            raise TrainingDiverged(
                f"Training diverged: {', '.join(bad)} became NaN or infinite between steps "
                f"{self._last_reported + 1} and {step}. The last good checkpoint is kept in the "
                "workdir's checkpoints/ directory; lower --config.learning_rate (or change the "
                "seed) and rerun the same command to resume from it."
            )
        self._check_game(means, step)
        now = time.perf_counter()
        means["img_per_s"] = (step - self._clock_step) * self._batch_size / (now - self._clock_time)
        self._last_reported = self._clock_step = step
        self._clock_time = now
        epoch_end = step % self._steps_per_epoch == 0
        epoch = (step - 1) // self._steps_per_epoch + 1
        self._writer.write_scalars(
            step,
            {f"train/{k}": v for k, v in means.items()}
            | {"train/epoch": step / self._steps_per_epoch},
        )
        if self._is_chief:
            self._print_row(epoch, step, epoch_end, means, now - self._start_time)
            self._append_csv(epoch, step, epoch_end, means, now - self._start_time)
        return means

    def _check_game(self, means: dict[str, float], step: int) -> None:
        """Counts reports in a row where the game is over; sets means["diverged"]."""
        over = "d_loss" in means and game_is_over(means)
        self._game_over_reports = self._game_over_reports + 1 if over else 0
        diverged = 0 < self._divergence_reports <= self._game_over_reports
        means["diverged"] = float(diverged)
        if not diverged or self._game_over_reports > self._divergence_reports:
            return  # warn once, when the count is reached
        message = (
            f"Training has diverged by step {step}: for {self._game_over_reports} reports in a "
            f"row D's loss was below {DIVERGED_D_LOSS}, it classified every real and generated "
            f"image correctly and G's gradient norm was below {DIVERGED_G_GRAD_NORM}, so G no "
            "longer learns. Lower --config.learning_rate (or d_learning_rate), or restart from "
            "an earlier checkpoint; --config.stop_on_divergence=true stops such runs."
        )
        if self._stop_on_divergence:
            raise TrainingDiverged(message)
        logging.warning("%s Training goes on (trace.csv marks the rows: diverged=1).", message)

    def _print_row(self, epoch: int, step: int, epoch_end: bool, means: dict, elapsed: float):
        if self._rows_printed % 25 == 0:
            header = [f"{'epoch':>5}", f"{'progress':>9}", f"{'step':>8}"]
            header += [f"{title:>{len(fmt.format(0.0))}}" for _, title, fmt in METRIC_COLUMNS]
            header += [f"{'img/s':>7}", f"{'elapsed':>9}", f"{'ETA':>9}"]
            print("  ".join(header), flush=True)
        done = step - (epoch - 1) * self._steps_per_epoch
        progress = "done" if epoch_end else f"{100.0 * done / self._steps_per_epoch:.1f}%"
        eta = (self._num_steps - step) * self._batch_size / max(means["img_per_s"], 1e-9)
        row = [f"{epoch:>5}", f"{progress:>9}", f"{step:>8}"]
        row += [fmt.format(means[key]) for key, _, fmt in METRIC_COLUMNS]
        row += [
            f"{means['img_per_s']:>7.1f}",
            f"{format_duration(elapsed):>9}",
            f"{format_duration(eta):>9}",
        ]
        print("  ".join(row), flush=True)
        self._rows_printed += 1

    def _append_csv(self, epoch: int, step: int, epoch_end: bool, means: dict, elapsed: float):
        new_file = not self._csv_path.exists()
        with self._csv_path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            if new_file:
                writer.writeheader()
            row = {"epoch": epoch, "step": step, "epoch_end": int(epoch_end), "elapsed_s": elapsed}
            writer.writerow(
                row | {k: means[k] for k in CSV_FIELDS if k in means} | self._evaluation
            )
        self._evaluation = {}


def _truncate_csv(path: pathlib.Path, after_step: int) -> None:
    """Drops rows past the resume step, left by a run killed after its last checkpoint."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if int(row["step"]) <= after_step]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
