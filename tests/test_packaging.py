"""`pip install .` gives a working package: its metadata, console scripts and a training run.

The package goes into a fresh virtual environment that sees this one's site-packages through a
.pth file (so the dependencies are not downloaded again), and runs from a directory outside the
checkout, so only the installed copy of `gan` and `configs` can be imported.
"""

import pathlib
import site
import subprocess
import venv

from tests.conftest import REPO_ROOT


def test_installed_package_trains_from_its_console_script(tmp_path, data_dir):
    environment = tmp_path / "env"
    # No pip or setuptools of its own: those of the test environment (on the .pth below) are
    # the pinned ones, which the installed dependencies' requirements are checked against.
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    new_site = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (pathlib.Path(new_site) / "test_environment.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n"
    )
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "."],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout  # the declared ranges hold the pinned versions
    installed = subprocess.run(
        [python, "-c", "import configs, gan; print(gan.__file__, configs.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(REPO_ROOT) not in installed
    configs_dir = installed.split()[1].rsplit("/", 1)[0]
    run = subprocess.run(
        [environment / "bin" / "gan-train", f"--config={configs_dir}/tiny.py"]
        + [f"--workdir={tmp_path / 'run'}", f"--config.data_dir={data_dir}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "6").is_dir()
    for script in ("gan-sample", "gan-evaluate", "gan-trace"):
        assert (environment / "bin" / script).exists()
