"""experiments/run_figure.py: the wall time it captions a resumed run's grids with."""

from experiments import run_figure


def test_wall_time_of_a_resumed_run_adds_up_its_invocations(tmp_path):
    rows = [(100, 10.0), (200, 20.0), (200, 21.0), (300, 5.0), (400, 15.0)]  # resumed after 200
    lines = ["step,elapsed_s"] + [f"{step},{elapsed}" for step, elapsed in rows]
    (tmp_path / "trace.csv").write_text("\n".join(lines) + "\n")
    assert run_figure.elapsed_at(tmp_path, 200) == 21.0  # its last row
    assert run_figure.elapsed_at(tmp_path, 400) == 21.0 + 15.0
    assert run_figure.elapsed_at(tmp_path, 500) != run_figure.elapsed_at(tmp_path, 500)  # nan
