"""pytorch-fid as a test reference: imported when the extras are installed, else the test skips.

`pip install -r requirements-eval-test.txt` installs it (torch, torchvision, pytorch-fid).
"""

import importlib

import pytest


def import_pytorch_fid(module: str):
    """`pytorch_fid.<module>`, or a skip naming why it cannot be imported.

    A torchvision built for another torch raises RuntimeError on import, not ImportError.
    """
    pytest.importorskip("torch")
    try:
        return importlib.import_module(f"pytorch_fid.{module}")
    except (ImportError, RuntimeError) as error:
        pytest.skip(f"pytorch-fid cannot be imported: {error}")
