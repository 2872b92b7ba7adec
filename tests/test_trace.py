"""Tests for gan/trace.py: the stages sown by both networks, the three pictures, the errors."""

import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import dcgan_paper, tiny
from gan import models, trace
from gan.errors import UserError
from gan.models import dcgan, resnet, sampling
from gan.training import train
from tests.conftest import REPO_ROOT

PICTURES = ["generator_stages.png", "discriminator_features.png", "training_trace.png"]


def _abstract_state(config):
    return jax.eval_shape(lambda: train.create_train_state(config, jax.random.PRNGKey(0)))


@pytest.mark.parametrize("image_size", [32, 64, 128])
def test_stages_follow_the_resolution(image_size):
    config = tiny.get_config()  # ngf = ndf = 8
    config.image_size = image_size
    state, stages = _abstract_state(config), dcgan.num_resolution_stages(image_size)
    z = jax.ShapeDtypeStruct((2, config.latent_dim), jnp.float32)
    fake, g_maps = jax.eval_shape(trace.generator_stages, state, z)
    assert fake.shape == (2, image_size, image_size, 3)
    assert [m.shape for m in g_maps] == [
        (2, 4 * 2**k, 4 * 2**k, 8 * 2 ** (stages - 1 - k)) for k in range(stages)
    ]
    real = jax.ShapeDtypeStruct((2, image_size, image_size, 3), jnp.float32)
    logits, d_maps = jax.eval_shape(trace.discriminator_stages, state, real)
    assert logits.shape == (2,)
    assert [m.shape for m in d_maps] == [
        (2, image_size // 2 ** (k + 1), image_size // 2 ** (k + 1), 8 * 2**k) for k in range(stages)
    ]


@pytest.mark.parametrize("image_size", [32, 64])
def test_resnet_stages_are_its_blocks_in_flow_order(image_size):
    config = tiny.get_config()
    config.update({"model": "resnet", "image_size": image_size, "ngf": 4, "ndf": 4})
    state = _abstract_state(config)
    z = jax.ShapeDtypeStruct((2, config.latent_dim), jnp.float32)
    fake, g_maps = jax.eval_shape(trace.generator_stages, state, z)
    assert fake.shape == (2, image_size, image_size, 3)
    widths = resnet.GENERATOR_WIDTHS[image_size]
    expected = [(2, 4, 4, widths[0][0] * 4)]  # the dense layer's 4x4 map, then each block
    expected += [(2, 8 * 2**k, 8 * 2**k, out * 4) for k, (_, out) in enumerate(widths)]
    assert [m.shape for m in g_maps] == expected
    real = jax.ShapeDtypeStruct((2, image_size, image_size, 3), jnp.float32)
    _, d_maps = jax.eval_shape(trace.discriminator_stages, state, real)
    size, expected = image_size, []
    for width, halves in resnet.DISCRIMINATOR_BLOCKS[image_size]:
        size //= 2 if halves else 1
        expected.append((2, size, size, width * 4))
    assert [m.shape for m in d_maps] == expected  # blocks of one shape kept in order


def test_generator_sows_its_stages_by_name():
    config = dcgan_paper.get_config()  # the paper's widths
    generator, _ = models.create_models(config)
    z = jnp.zeros((2, config.latent_dim))
    variables = jax.eval_shape(lambda: generator.init(jax.random.PRNGKey(0), z, train=False))
    _, sown = jax.eval_shape(
        lambda v: generator.apply(v, z, train=False, mutable=["intermediates"]), variables
    )
    assert {name: v[0].shape for name, v in sown["intermediates"].items()} == {
        "features_4x4x512": (2, 4, 4, 512),
        "features_8x8x256": (2, 8, 8, 256),
        "features_16x16x128": (2, 16, 16, 128),
        "features_32x32x64": (2, 32, 32, 64),
    }


def test_traced_images_are_the_samples(trained_run):
    _, config, state = trained_run
    z = sampling.latent_noise(0, 3, config.latent_dim)
    fake, _ = trace.generator_stages(state, z)
    np.testing.assert_array_equal(fake, sampling.generate(state, z))


def test_channel_mosaics_scale_each_channel_and_draw_at_most_64():
    maps = np.zeros((2, 4, 4, 100), np.float32)
    maps[0, 1, 2, 0] = 5.0  # channel 0 is white only there; channel 1 stays constant
    mosaics = trace.channel_mosaics(maps)
    assert mosaics.shape == (2, 8 * 5 + 1, 8 * 5 + 1, 3)  # 8x8 tiles of 4 px, 1 px lines
    assert tuple(mosaics[0, 0, 0]) == trace.SEPARATOR_RGB
    assert tuple(mosaics[0, 1 + 1, 1 + 2]) == (255, 255, 255)
    assert mosaics[1, 1:5, 1:5].max() == 0 and mosaics[0, 1:5, 6:10].max() == 0


@pytest.fixture(scope="module")
def traced(trained_run, tmp_path_factory):
    """The three pictures of the shared tiny run, traced with 3 noise vectors, 2 real images."""
    workdir = trained_run[0]
    out = tmp_path_factory.mktemp("trace")
    return trace.write_trace(workdir, out, step=None, num_noise=3, num_real=2, seed=0)


def test_writes_the_three_pictures_one_row_per_input(traced):
    assert [path.name for path in traced] == PICTURES
    for path in traced:
        assert 5_000 < path.stat().st_size < 300_000, path.name
        with Image.open(path) as picture:
            assert picture.width >= 800 and picture.height >= 500, path.name
    # A figure is a title band of one inch and a panel's height per row.
    for path, rows in zip(traced[:2], (3, 2), strict=True):
        with Image.open(path) as picture:
            assert picture.height == int((trace.PANEL_INCHES * rows + 1.0) * trace.DPI)


def test_generator_picture_has_one_row_per_noise_vector(trained_run):
    _, config, state = trained_run
    z = sampling.latent_noise(0, 3, config.latent_dim)
    titles, columns = trace.generator_columns(state, z)
    # z, the three stages of a 32 px generator (ngf 8), the image.
    assert [title.split("\n")[0] for title in titles] == [
        f"noise z, 1x{config.latent_dim}",
        "4x4x32",
        "8x8x16",
        "16x16x8",
        "image",
    ]
    assert [len(column) for column in columns] == [3] * 5
    assert columns[-1].shape == (3, 32, 32, 3) and columns[-1].dtype == np.uint8


def test_missing_run_trace_or_checkpoint_is_a_user_error(trained_run, tmp_path):
    workdir, out = trained_run[0], tmp_path / "out"
    with pytest.raises(UserError, match="No training run"):
        trace.write_trace(tmp_path / "nowhere", out, None, 1, 1, 0)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(workdir / "config.json", run)
    with pytest.raises(UserError, match="trace.csv is missing or empty"):
        trace.write_trace(run, out, None, 1, 1, 0)
    shutil.copy(workdir / "trace.csv", run)
    with pytest.raises(UserError, match="no checkpoint yet"):
        trace.write_trace(run, out, None, 1, 1, 0)
    with pytest.raises(UserError, match="No checkpoint at step 5"):
        trace.write_trace(workdir, out, 5, 1, 1, 0)
    assert not out.exists()


def test_cli_reports_a_missing_run_as_one_paragraph(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gan.trace", f"--workdir={tmp_path / 'nowhere'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "error: No training run" in result.stderr and "Traceback" not in result.stderr
