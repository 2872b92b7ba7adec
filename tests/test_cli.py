"""The command-line entry points: user-facing failures (one paragraph, exit status 1) and the
compilation cache every command keeps."""

import os
import re
import subprocess
import sys

import pytest

from gan.errors import UserError
from gan.training import validation
from tests.conftest import REPO_ROOT


def _run(*args, env=None):
    """Runs `python -m ARGS`; returns (exit status, stderr with line wrapping undone)."""
    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return result.returncode, " ".join(result.stderr.split())


def test_unknown_config_key_is_named_without_traceback(tmp_path):
    status, stderr = _run(
        "gan.main", "--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.learning_rat=1"
    )
    assert status == 1
    assert "Unknown config key in --config.learning_rat=1" in stderr
    assert "Did you mean 'learning_rate'?" in stderr
    assert "Traceback" not in stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_unsupported_image_size_is_a_clear_error(tmp_path, data_dir):
    status, stderr = _run(
        "gan.main",
        "--config=configs/tiny.py",
        f"--workdir={tmp_path / 'run'}",
        "--config.image_size=48",
        f"--config.data_dir={data_dir}",
    )
    assert status == 1
    assert "Unsupported config value image_size=48" in stderr
    assert "(32, 64, 128)" in stderr and "Traceback" not in stderr


def test_sample_without_a_run_is_a_clear_error(tmp_path):
    status, stderr = _run("gan.sample", f"--workdir={tmp_path}", f"--out={tmp_path / 'x.png'}")
    assert status == 1
    assert "No training run in" in stderr and "Traceback" not in stderr


def test_a_run_keeps_its_compiled_programs_in_the_users_cache(tmp_path, data_dir):
    """Without JAX_COMPILATION_CACHE_DIR, compiled programs go to ~/.cache/gan/xla."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    env.update(HOME=str(tmp_path), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    status, stderr = _run(
        "gan.main",
        "--config=configs/tiny.py",
        f"--workdir={tmp_path / 'run'}",
        "--config.num_train_steps=1",
        f"--config.data_dir={data_dir}",
        env=env,
    )
    assert status == 0, stderr
    assert any((tmp_path / ".cache" / "gan" / "xla").iterdir())


def test_unwritable_workdir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(UserError, match="Cannot write to the workdir"):
        validation.prepare_workdir(str(blocker / "run"))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("num_channels", 2, "use 1 (grayscale) or 3 (RGB)"),
        ("batch_size", 0, "positive integer"),
        ("beta1", 1.0, "beta1 must lie in [0, 1)"),
        ("learning_rate", -1.0, "must be positive"),
    ],
)
def test_config_values_are_validated(tiny_config, key, value, message):
    tiny_config[key] = value
    with pytest.raises(UserError, match=rf"Unsupported config value {key}=.*{re.escape(message)}"):
        validation.validate_config(tiny_config)
