"""Shared fixtures: the tiny embedded dataset prepared once, tiny configs, a compile cache."""

import pathlib

import jax
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import gan.data.procedural_shapes  # noqa: F401  (registers the builder)
from configs import tiny
from gan.training import train

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

tf.config.set_visible_devices([], "GPU")


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """Shares compiled XLA programs between the many tiny runs of one test session."""
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    """A tfds data dir holding `procedural_shapes/tiny` (512 train images), prepared once."""
    path = tmp_path_factory.mktemp("tfds")
    builder = tfds.builder("procedural_shapes/tiny", data_dir=path)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    return str(path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_dir):
    """One uninterrupted 6-step tiny run, shared as the reference: (workdir, config, state).

    Tests read its workdir but never write to it.
    """
    config = tiny.get_config()
    config.data_dir = data_dir
    workdir = tmp_path_factory.mktemp("run")
    return workdir, config, train.train_and_evaluate(config, str(workdir))


@pytest.fixture
def tiny_config(data_dir):
    """A fresh (mutable) tiny config reading the session's prepared data."""
    config = tiny.get_config()
    config.data_dir = data_dir
    return config
