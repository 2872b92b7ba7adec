"""The figure scripts: run_figure's wall time of a resumed run, and the panel layout and
evaluation lookup it shares with recipe_grids."""

import json

from PIL import Image

from experiments import run_figure


def test_wall_time_of_a_resumed_run_adds_up_its_invocations(tmp_path):
    rows = [(100, 10.0), (200, 20.0), (200, 21.0), (300, 5.0), (400, 15.0)]  # resumed after 200
    lines = ["step,elapsed_s"] + [f"{step},{elapsed}" for step, elapsed in rows]
    (tmp_path / "trace.csv").write_text("\n".join(lines) + "\n")
    assert run_figure.elapsed_at(tmp_path, 200) == 21.0  # its last row
    assert run_figure.elapsed_at(tmp_path, 400) == 21.0 + 15.0
    assert run_figure.elapsed_at(tmp_path, 500) != run_figure.elapsed_at(tmp_path, 500)  # nan


def test_pictures_of_different_sizes_sit_side_by_side_under_their_captions():
    small, large = Image.new("RGB", (10, 20), "red"), Image.new("RGB", (30, 40), "blue")
    figure = run_figure.compose([("a", small), ("b", large)])
    assert figure.size == (10 + 8 + 30, run_figure.CAPTION_HEIGHT + 40)
    assert figure.getpixel((5, run_figure.CAPTION_HEIGHT + 5)) == (255, 0, 0)
    assert figure.getpixel((20, run_figure.CAPTION_HEIGHT + 35)) == (0, 0, 255)


def test_the_captions_read_the_last_evaluation_of_the_step_with_their_metric(tmp_path):
    lines = [
        {"step": 3000, "fid": 5.0, "coverage": 0.1},
        {"step": 3000, "recognisable": 0.5},
        {"step": 3000, "fid": 4.0, "coverage": 0.2},
        {"step": 2000, "fid": 9.0, "coverage": 0.0},
    ]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run_figure.evaluation_at(tmp_path, 3000, "fid")["fid"] == 4.0
    assert run_figure.evaluation_at(tmp_path, 1000, "fid") == {}
    assert run_figure.evaluation_at(tmp_path, 3000)["recognisable"] == 0.5
