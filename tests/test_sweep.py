"""Tests for experiments/sweep.py: trials, commands, a real tiny sweep, resume, the tables."""

import csv
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from configs import tiny as tiny_config
from experiments import sweep
from gan.errors import UserError
from gan.training import train
from tests.conftest import REPO_ROOT

SWEEP_FILE = """
from experiments import sweep

def get_sweep():
    return sweep.Sweep(
        config="{config}",
        axes={{"log_every_steps": [1, 2]}},
        seeds=(0, 1),
        overrides={{"num_train_steps": 2, "data_dir": "{data_dir}"}},
        primary_metric="g_loss",
    )
"""


@pytest.fixture
def sweep_file(tmp_path, data_dir):
    """Four tiny trials: two points (which compile to the same step) times two seeds."""
    path = tmp_path / "tiny_sweep.py"
    path.write_text(SWEEP_FILE.format(config=REPO_ROOT / "configs/tiny.py", data_dir=data_dir))
    return str(path)


def test_grid_trials_cover_every_point_and_seed():
    grid = sweep.Sweep(
        config="c.py", axes={"loss": ["hinge", "lsgan"], "ngf": [4, 8]}, seeds=(0, 1)
    )
    trials = sweep.create_trials(grid)
    assert len(trials) == 8
    assert trials[0].overrides == {"loss": "hinge", "ngf": 4, "seed": 0}
    assert trials[1].overrides == {"loss": "hinge", "ngf": 4, "seed": 1}  # seeds vary fastest
    assert len({t.name for t in trials}) == 8 and trials[7].name.startswith("007_")


def test_random_search_is_seeded_and_stays_in_range():
    space = {"learning_rate": sweep.LogUniform(1e-5, 1e-3), "loss": ["hinge", "lsgan"]}
    draw = lambda seed: sweep.search_points(  # noqa: E731
        sweep.Sweep(config="c.py", axes=space, search="random", num_trials=20, search_seed=seed)
    )
    points = draw(0)
    assert points == draw(0) and points != draw(1)
    rates = [p["learning_rate"] for p in points]
    assert min(rates) >= 1e-5 and max(rates) <= 1e-3
    assert min(rates) < 1e-4 < max(rates)  # log-uniform: both decades are visited
    assert {p["loss"] for p in points} == {"hinge", "lsgan"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"search": "randon"}, "use one of grid, random"),
        ({"search": "random"}, "needs num_trials > 0"),
        ({"axes": {"learning_rate": sweep.LogUniform(1e-5, 1e-3)}}, "only a random search"),
    ],
)
def test_a_search_that_cannot_mean_what_it_says_is_refused(fields, message):
    with pytest.raises(UserError, match=message):
        sweep.Sweep(**({"config": "c.py", "axes": {"ngf": [4, 8]}} | fields))


def test_print_commands_gives_one_command_per_trial(sweep_file, capsys):
    trials = sweep.create_trials(sweep.load_sweep(sweep_file))
    commands = [sweep.trial_command(sweep_file, "runs/s", t) for t in trials]
    assert len(commands) == 4
    assert (
        commands[3]
        == f"python -m experiments.sweep --sweep={sweep_file} --workdir=runs/s --trial=3"
    )


def test_unknown_override_is_a_user_error(sweep_file):
    loaded = sweep.load_sweep(sweep_file)
    trial = sweep.Trial(0, "t", {"learning_rte": 1e-3})
    with pytest.raises(UserError, match="overrides 'learning_rte'"):
        sweep.trial_config(loaded, trial)


def test_overrides_when_apply_only_to_their_axis_value():
    recipes = [str(REPO_ROOT / "configs/tiny.py"), str(REPO_ROOT / "configs/sngan_resnet.py")]
    comparison = sweep.Sweep(
        config=recipes[0],
        axes={"config": recipes},
        overrides={"ngf": 8, "num_train_steps": 5},
        overrides_when={("config", recipes[1]): {"ngf": 32, "ndf": 16}},
    )
    tiny, sngan = (sweep.trial_config(comparison, t) for t in sweep.create_trials(comparison))
    assert (tiny.model, tiny.ngf, tiny.ndf, tiny.num_train_steps) == (
        "dcgan",
        8,
        tiny_config.get_config().ndf,  # untouched
        5,
    )
    assert (sngan.model, sngan.ngf, sngan.ndf, sngan.num_train_steps) == ("resnet", 32, 16, 5)


def test_overrides_when_naming_no_axis_value_is_refused():
    with pytest.raises(UserError, match="overrides_when names ngf=16"):
        sweep.Sweep(config="c.py", axes={"ngf": [4, 8]}, overrides_when={("ngf", 16): {}})


def test_sweep_resumes_without_redoing_finished_trials(sweep_file, tmp_path, monkeypatch):
    workdir = tmp_path / "sweep"
    loaded = sweep.load_sweep(sweep_file)
    trials = sweep.create_trials(loaded)
    # An interrupted sweep: trials 0 and 1 finished, trial 2 stopped after its first step.
    sweep.run_trial(loaded, trials[0], workdir)
    sweep.run_trial(loaded, trials[1], workdir)
    partial = sweep.trial_config(loaded, trials[2])
    partial.num_train_steps = 1
    train.train_and_evaluate(partial, str(workdir / trials[2].name))

    calls = []
    real_train = train.train_and_evaluate
    monkeypatch.setattr(
        train, "train_and_evaluate", lambda c, w: calls.append(w) or real_train(c, w)
    )
    rows = sweep.run_sweep(sweep_file, str(workdir))
    assert [p.rsplit("/", 1)[-1] for p in calls] == [trials[2].name, trials[3].name]
    with (workdir / trials[2].name / "trace.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2]  # resumed, not restarted

    assert [row["seeds"] for row in rows] == [2, 2]
    with (workdir / "trials.csv").open() as f:
        per_trial = list(csv.DictReader(f))
    assert len(per_trial) == 4
    for row in rows:  # each point is the mean and std of its two seeds
        losses = [
            float(t["g_loss"])
            for t in per_trial
            if int(t["log_every_steps"]) == row["log_every_steps"]
        ]
        assert row["g_loss_mean"] == pytest.approx(np.mean(losses))
        assert row["g_loss_std"] == pytest.approx(np.std(losses, ddof=1))
    assert rows[0]["g_loss_mean"] <= rows[1]["g_loss_mean"]  # sorted by the primary metric
    table = (workdir / "summary.md").read_text()
    assert "| log_every_steps | seeds | d_loss | g_loss | img_per_s | wall_s |" in table
    assert " ± " in table
    assert (workdir / "summary.csv").exists()

    # The overview shows each point's seed-0 samples from its last step, best point first.
    best = next(
        t
        for t in trials
        if t.overrides == {"log_every_steps": rows[0]["log_every_steps"], "seed": 0}
    )
    with Image.open(workdir / best.name / "samples" / "step_0000002.png") as grid:
        expected = np.asarray(grid.convert("RGB"))
    with Image.open(workdir / "samples.png") as overview:
        pixels = np.asarray(overview)
    height, width = expected.shape[:2]
    assert pixels.shape[1] == 2 * width + 8  # two points, one gap
    np.testing.assert_array_equal(pixels[-height:, :width], expected)

    # Scores written later by `python -m gan.evaluate` join the table on the next invocation.
    for trial in trials:
        line = {"step": 2, "fid": 10.0 + trial.index, "protocol": {"n": 8}}
        (workdir / trial.name / sweep.EVALUATION_FILE).write_text(json.dumps(line) + "\n")
    calls.clear()
    rows = sweep.run_sweep(sweep_file, str(workdir))
    assert not calls
    assert sorted(row["eval/fid_mean"] for row in rows) == [10.5, 12.5]

    events = [
        value.metadata.plugin_data.plugin_name
        for path in workdir.glob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    ]
    assert "hparams" in events
