"""pytorch-fid as a test reference: imported when the extras are installed, else the test skips.

`make test` installs it (`requirements-test.txt`: torch, torchvision, then pytorch-fid).
"""

import importlib
import sys
import types

import pytest


def import_pytorch_fid(module: str):
    """`pytorch_fid.<module>`, or a skip naming why it cannot be imported."""
    pytest.importorskip("torch")
    try:
        _import_torchvision()
        return importlib.import_module(f"pytorch_fid.{module}")
    except (ImportError, RuntimeError) as error:
        pytest.skip(f"pytorch-fid cannot be imported: {error}")


def _import_torchvision() -> None:
    """Imports torchvision, even where its compiled operators do not fit the installed torch.

    PyPI's torchvision is built against PyPI's CUDA torch; beside a CPU torch its operator
    library (nms, roi_align, ...) does not load, and registering those operators' shapes
    raises RuntimeError on import. pytorch-fid's network uses only torchvision's Python layers,
    so the registrations are skipped then.
    """
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        for name in [name for name in sys.modules if name.startswith("torchvision")]:
            del sys.modules[name]
        skipped = types.ModuleType("torchvision._meta_registrations")
        sys.modules["torchvision._meta_registrations"] = skipped
        import torchvision  # noqa: F401
