"""Evaluation of a tiny run: the embedded dataset's evaluator, cached references, the CLI."""

import csv
import json
import math
import os
import pathlib
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from gan import parallel
from gan.data import procedural_shapes
from gan.errors import UserError
from gan.evaluation import inception_weights, protocol, recognisability, shapes_evaluator
from gan.training import restore, train
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def evaluator(data_dir):
    """An evaluator trained for a few steps on the tiny dataset, saved where evaluation looks."""
    images, factors = shapes_evaluator.load_labelled("procedural_shapes/tiny", data_dir, "train")
    variables = shapes_evaluator.train(images, factors, num_steps=20)
    accuracy = shapes_evaluator.factor_accuracy(variables, images, factors)
    shapes_evaluator.save(
        variables, {"test_accuracy": accuracy}, shapes_evaluator.default_path(data_dir)
    )
    return variables, accuracy


def test_evaluator_round_trips_through_its_file(evaluator, data_dir):
    variables, accuracy = evaluator
    loaded, metadata, weights_hash = shapes_evaluator.load(shapes_evaluator.default_path(data_dir))
    assert metadata == {"test_accuracy": accuracy}
    assert set(accuracy) == set(shapes_evaluator.FACTOR_SIZES)
    assert all(0.0 <= a <= 1.0 for a in accuracy.values()) and len(weights_hash) == 8
    kernel = ("params", "Dense_0", "kernel")
    np.testing.assert_array_equal(
        loaded[kernel[0]][kernel[1]][kernel[2]], variables[kernel[0]][kernel[1]][kernel[2]]
    )


def test_evaluate_scores_a_run_with_its_protocol(trained_run, evaluator):
    workdir, config, state = trained_run
    extractor = protocol.create_extractor("shapes", config)
    names = ("fid", "kid", "pr", "coverage", "recognisable")
    result = protocol.evaluate(state, config, names, 64, extractor)
    assert result["step"] == config.num_train_steps
    for key in ("fid", "kid", "kid_std", "precision", "recall", "coverage", "factor_kl"):
        assert np.isfinite(result[key]), key
    # Six steps of a tiny model draw no shape; the shares are of nothing recognised.
    assert 0 <= result["recognisable"] < 0.5 and 0 <= result["shape_fit"] <= 1
    shares = [result[f"recognisable_{name}"] for name in procedural_shapes.SHAPES]
    assert sum(shares) == pytest.approx(1.0 if result["recognisable"] else 0.0)
    assert result["protocol"]["recognisable_threshold"] == recognisability.THRESHOLD
    assert result["fid"] > 0 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    combinations = math.prod(map(len, procedural_shapes.FACTORS.values()))
    assert 0 < result["coverage_real"] <= 64 / combinations and result["factor_kl"] >= 0
    recorded = result["protocol"]
    assert recorded["extractor"] == "shapes" and recorded["num_real"] == 64
    assert recorded["reference"] == "procedural_shapes/tiny:train"
    assert recorded["weights_sha256"] == extractor.weights_hash
    # The real side is cached in the data dir and reused: the same numbers again.
    cache = list((pathlib.Path(config.data_dir) / "reference_statistics").glob("*.npz"))
    assert len(cache) == 1 and "32px" in cache[0].name and extractor.weights_hash in cache[0].name
    assert protocol.evaluate(state, config, names, 64, extractor) == result


def test_evaluate_cli_prints_and_writes_one_json_line(trained_run, evaluator):
    workdir, _, _ = trained_run
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gan.evaluate",
            f"--workdir={workdir}",
            "--metrics=fid,coverage",
            "--num_samples=32",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"step", "fid", "coverage", "protocol"} <= set(line)
    written = (workdir / "eval.jsonl").read_text().strip().splitlines()
    assert json.loads(written[-1]) == line
    (workdir / "eval.jsonl").unlink()  # the shared run stays as it was


def test_evaluation_split_over_four_devices_matches_one_device(trained_run, evaluator):
    """`gan.evaluate` on 4 (fake CPU) devices: generation and both feature passes are split
    over the mesh, 30 images padded to 32; the numbers must be those of one device."""
    workdir, config, state = trained_run
    names, num = ("fid", "coverage"), 30
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gan.evaluate",
            f"--workdir={workdir}",
            f"--metrics={','.join(names)}",
            f"--num_samples={num}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (workdir / "eval.jsonl").unlink()  # the shared run stays as it was
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Scoring {num} images on 4 devices" in result.stderr
    four_devices = json.loads(result.stdout.strip().splitlines()[-1])
    # The 4-device process cached the real features; score again on one device, recomputing them.
    (cached,) = pathlib.Path(config.data_dir, "reference_statistics").glob(f"*_{num}.npz")
    with np.load(cached) as real_on_four:
        real_on_four = dict(real_on_four)
    cached.unlink()
    one_device = protocol.evaluate(
        state, config, names, num, protocol.create_extractor("shapes", config)
    )
    with np.load(cached) as real_on_one:
        np.testing.assert_allclose(real_on_four["features"], real_on_one["features"], atol=1e-5)
    cached.unlink()
    assert four_devices["coverage"] == one_device["coverage"]
    np.testing.assert_allclose(four_devices["fid"], one_device["fid"], rtol=1e-4)
    np.testing.assert_allclose(four_devices["factor_kl"], one_device["factor_kl"], rtol=1e-4)


@pytest.mark.parametrize(
    ("names", "extractor", "dataset", "num_classes", "message"),
    [
        (("is",), "shapes", "procedural_shapes", 0, "needs ImageNet classes"),
        (("coverage",), "inception", "procedural_shapes", 0, "needs the procedural_shapes"),
        (("fid", "ssim"), "shapes", "procedural_shapes", 0, "Unknown metric"),
        (("fid", "recognisable"), "inception", "celeb_a", 0, "only scores runs on procedural"),
        (("label_accuracy",), "shapes", "procedural_shapes", 0, "needs a class-conditional run"),
        (("label_accuracy",), "inception", "cifar10", 10, "needs a class-conditional run"),
    ],
)
def test_impossible_requests_are_clear_errors(names, extractor, dataset, num_classes, message):
    config = ml_collections.ConfigDict(
        {"dataset": dataset, "num_classes": num_classes, "label_key": "label"}
    )
    with pytest.raises(UserError, match=message):
        protocol.check_request(names, extractor, 100, config)


def _evaluator_outputs(shapes: np.ndarray) -> dict:
    """Evaluator outputs that read every image as the given shape (other factors: value 0)."""
    outputs = {}
    for name, size in shapes_evaluator.FACTOR_SIZES.items():
        chosen = shapes if name == "shape" else np.zeros_like(shapes)
        outputs[f"logits_{name}"] = np.eye(size)[chosen]
    return outputs


def test_label_accuracy_reads_the_class_each_sample_was_drawn_for():
    labels = np.arange(80) % 8
    following = protocol.compute_metrics(
        ("label_accuracy",), {}, _evaluator_outputs(labels), labels, "shape"
    )
    assert following["label_accuracy"] == 1.0
    assert following["label_accuracy_star"] == 1.0
    ignoring = protocol.compute_metrics(
        ("label_accuracy",), {}, _evaluator_outputs(np.zeros(80, int)), labels, "shape"
    )
    assert ignoring["label_accuracy"] == pytest.approx(1 / 8)
    assert ignoring["label_accuracy_circle"] == 1.0 and ignoring["label_accuracy_star"] == 0.0


def test_conditional_run_is_scored_against_the_classes_it_sampled(tiny_config, evaluator):
    tiny_config.label_key = "shape"
    tiny_config.num_classes = len(procedural_shapes.SHAPES)
    tiny_config.d_packing = 1  # a conditional D scores images one by one
    state = train.create_sharded_state(tiny_config, parallel.create_mesh())
    extractor = protocol.create_extractor("shapes", tiny_config)
    names = ("label_accuracy", "recognisable")
    result = protocol.evaluate(state, tiny_config, names, 16, extractor)
    assert 0 <= result["label_accuracy"] <= 1
    assert 0 <= result["recognisable_as_label"] <= result["recognisable"]
    per_class = [result[f"label_accuracy_{shape}"] for shape in procedural_shapes.SHAPES]
    assert result["label_accuracy"] == pytest.approx(np.mean(per_class))  # 2 samples per class


def test_missing_evaluator_names_the_command(tmp_path, tiny_config):
    tiny_config.data_dir = str(tmp_path)
    with pytest.raises(UserError, match="python -m gan.train_shapes_evaluator"):
        protocol.create_extractor("shapes", tiny_config)


def test_missing_inception_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv(inception_weights.ENV_VAR, str(tmp_path / "absent.pth"))
    with pytest.raises(UserError, match=f"does not exist.*{inception_weights.URL}"):
        inception_weights.locate()


def test_wrong_inception_weights_file_is_refused(tmp_path):
    wrong = tmp_path / "weights.pth"
    wrong.write_bytes(b"not the weights")
    with pytest.raises(UserError, match="is not pytorch-fid's Inception weights"):
        inception_weights.locate(str(wrong))


def test_evaluation_during_training_logs_scores_and_keeps_the_best_state(
    tiny_config, evaluator, tmp_path
):
    tiny_config.eval_every_steps = 2
    tiny_config.num_eval_samples = 32
    tiny_config.eval_metrics = "fid,coverage,recognisable"
    train.train_and_evaluate(tiny_config, str(tmp_path))
    lines = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4, 6]
    assert all(np.isfinite(line["fid"]) and "coverage" in line for line in lines)
    # trace.csv shows each evaluation on its step's row, and only there.
    with (tmp_path / "trace.csv").open() as f:
        rows = {int(row["step"]): row for row in csv.DictReader(f)}
    for line in lines:
        assert float(rows[line["step"]]["eval_recognisable"]) == line["recognisable"]
        assert float(rows[line["step"]]["eval_fid"]) == pytest.approx(line["fid"])
    assert rows[3]["eval_fid"] == ""
    assert {line["protocol"]["num_generated"] for line in lines} == {32}
    best = json.loads((tmp_path / "best_checkpoint" / "best.json").read_text())
    lowest = min(lines, key=lambda line: line["fid"])
    assert best == {"step": lowest["step"], "metric": "fid", "score": lowest["fid"]}
    # gan.sample / gan.evaluate --best restore exactly that state.
    restored = restore.restore_for_sampling(tmp_path, None, best=True)
    assert int(restored.step) == lowest["step"]
    rescored = protocol.evaluate(
        restored, tiny_config, ("fid",), 32, protocol.create_extractor("shapes", tiny_config)
    )
    assert rescored["fid"] == pytest.approx(lowest["fid"], rel=1e-6)
    with pytest.raises(UserError, match="either --step or --best"):
        restore.restore_for_sampling(tmp_path, 2, best=True)


def test_recognisability_alone_needs_no_feature_network(trained_run):
    _, config, state = trained_run
    result = protocol.evaluate(state, config, ("recognisable",), 16, extractor=None)
    assert 0 <= result["recognisable"] <= 1
    assert "extractor" not in result["protocol"] and "fid" not in result
