"""Every file in configs/ loads, documents its command and passes validation."""

import importlib

import pytest

from gan.training import validation
from tests.conftest import REPO_ROOT

CONFIG_FILES = sorted(p.stem for p in (REPO_ROOT / "configs").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_is_valid_and_documents_its_command(name):
    module = importlib.import_module(f"configs.{name}")
    assert f"--config=configs/{name}.py" in module.__doc__
    config = module.get_config()
    validation.validate_config(config)
    assert config.dataset and config.image_size in validation.SUPPORTED_IMAGE_SIZES


def test_config_files_are_found():
    assert {"dcgan", "tiny", "dcgan_celeba"} <= set(CONFIG_FILES)
