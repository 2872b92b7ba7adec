"""The FID Inception weights: finding or downloading pytorch-fid's file, reading it without torch.

pytorch-fid publishes the 2015-12-05 TensorFlow Inception weights as a PyTorch file,
`pt_inception-2015-12-05-6726825d.pth` (the suffix is the start of its SHA-256). This module
finds it (an explicit path, `$GAN_INCEPTION_WEIGHTS`, the project cache, or torch hub's cache
where pytorch-fid itself keeps it), downloads it when there is internet, checks its hash, and
reads it with a small unpickler: PyTorch is never a runtime dependency. Both PyTorch file
formats are read (the zip archive of torch >= 1.6 and the older sequence of pickles), so a state
dict saved by any version converts.
"""

import collections
import hashlib
import os
import pathlib
import pickle
import shutil
import urllib.request
import zipfile
from typing import NamedTuple

import numpy as np
from flax import traverse_util

from gan.errors import UserError

FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FILE_NAME}"
SHA256_PREFIX = "6726825d"
ENV_VAR = "GAN_INCEPTION_WEIGHTS"
CACHE_DIR = pathlib.Path("~/.cache/gan").expanduser()
TORCH_HUB_CACHE = pathlib.Path("~/.cache/torch/hub/checkpoints").expanduser()

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def file_hash(path: pathlib.Path) -> str:
    """The first 8 hex digits of the file's SHA-256, as torch hub names files."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:8]


def locate(path: str | None = None) -> pathlib.Path:
    """Path of the FID Inception weights, downloading them if they are nowhere yet.

    Args:
      path: an explicit file; otherwise `$GAN_INCEPTION_WEIGHTS`, then ~/.cache/gan, then torch
        hub's cache (where pytorch-fid downloads it) are searched.

    Returns:
      The path of an existing file with the expected hash.

    Raises:
      UserError: the file is missing and cannot be downloaded, or its hash is wrong.
    """
    explicit = path or os.environ.get(ENV_VAR)
    if explicit:
        found = pathlib.Path(explicit).expanduser()
        if not found.is_file():
            raise UserError(f"The Inception weights file {str(found)!r} does not exist. {_HOW}")
    else:
        candidates = [CACHE_DIR / FILE_NAME, TORCH_HUB_CACHE / FILE_NAME]
        found = next((c for c in candidates if c.is_file()), None) or _download(candidates[0])
    if file_hash(found) != SHA256_PREFIX:
        raise UserError(
            f"{str(found)!r} is not pytorch-fid's Inception weights (SHA-256 starts with "
            f"{file_hash(found)}, expected {SHA256_PREFIX}). {_HOW}"
        )
    return found


_HOW = (
    f"FID, KID, IS and precision/recall use pytorch-fid's Inception weights, {FILE_NAME}. "
    f"Download {URL} on a machine with internet and either put it in {CACHE_DIR} or point "
    f"${ENV_VAR} (or --inception_weights) at it. Offline, the embedded dataset can be scored "
    "with its own evaluator instead (--extractor=shapes)."
)


def _download(target: pathlib.Path) -> pathlib.Path:
    partial = target.with_suffix(".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL, timeout=30) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f)
    except OSError as error:
        raise UserError(
            f"The Inception weights are not here and cannot be downloaded ({error}). {_HOW}"
        ) from None
    partial.rename(target)
    return target


class _TensorRef(NamedTuple):
    """A tensor as the pickle describes it; read once every storage is loaded."""

    storage: np.ndarray
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def numpy(self) -> np.ndarray:
        itemsize = self.storage.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage[self.offset :],
            shape=self.size,
            strides=[s * itemsize for s in self.stride],
        ).copy()


def _rebuild_tensor(storage, offset, size, stride, *unused) -> _TensorRef:
    """Stands in for torch._utils._rebuild_tensor_v2 (requires_grad, hooks: unused)."""
    del unused
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a state dict into `_TensorRef`s; refuses every class a state dict lacks."""

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise pickle.UnpicklingError(f"Unexpected {module}.{name} in a state dict.")

    def persistent_load(self, saved_id):
        _, dtype, key, _, numel, *_ = saved_id  # ('storage', type, key, location, numel, ...)
        return self._load_storage(dtype, str(key), numel)


def read_state_dict(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Reads a PyTorch state dict file (either format) into numpy arrays, without torch.

    Raises:
      UserError: the file is not a PyTorch state dict.
    """
    try:
        if zipfile.is_zipfile(path):
            refs = _read_zip(path)
        else:
            with open(path, "rb") as f:
                refs = _read_legacy(f)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as error:
        raise UserError(f"{str(path)!r} is not a PyTorch state dict ({error}). {_HOW}") from None
    return {name: ref.numpy() for name, ref in refs.items()}


def _read_zip(path: pathlib.Path) -> dict[str, _TensorRef]:
    with zipfile.ZipFile(path) as archive:
        prefix = archive.namelist()[0].split("/")[0]

        def load_storage(dtype, key, numel):
            return np.frombuffer(archive.read(f"{prefix}/data/{key}"), dtype, count=numel)

        with archive.open(f"{prefix}/data.pkl") as f:
            return dict(_StateDictUnpickler(f, load_storage).load())


def _read_legacy(f) -> dict[str, _TensorRef]:
    """The pre-1.6 format: magic, protocol, system info, the state dict pickle, storage keys,
    then each storage as an int64 element count and its raw little-endian data."""
    if pickle.load(f) != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("no PyTorch magic number")
    pickle.load(f)  # protocol version
    pickle.load(f)  # system info
    storages = {}

    def load_storage(dtype, key, numel):
        return storages.setdefault(key, np.empty(numel, dtype))

    refs = dict(_StateDictUnpickler(f, load_storage).load())
    for key in pickle.load(f):
        storage = storages[key]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        storage[:] = np.frombuffer(f.read(count * storage.itemsize), storage.dtype)
    return refs


def to_flax_variables(state_dict: dict[str, np.ndarray]) -> dict:
    """Converts pytorch-fid's (torchvision-named) state dict to `FIDInceptionV3` variables.

    Convolutions go from OIHW to HWIO, the fc matrix is transposed, BatchNorm's weight/bias
    become scale/bias and its running averages the `batch_stats` collection.

    Raises:
      UserError: the state dict is not the FID Inception network's.
    """
    renamed = {"weight": "scale", "running_mean": "mean", "running_var": "var"}
    params, stats = {}, {}
    for name, value in state_dict.items():
        *path, leaf = name.split(".")
        if leaf == "num_batches_tracked" or path[0] == "AuxLogits":
            continue
        if path[-1] == "conv":
            params[(*path, "kernel")] = value.transpose(2, 3, 1, 0)
        elif path[-1] == "bn":
            target = stats if leaf.startswith("running") else params
            target[(*path, renamed.get(leaf, leaf))] = value
        elif path == ["fc"]:
            params[("fc", "kernel" if leaf == "weight" else "bias")] = value.T
        else:
            raise UserError(f"Unexpected tensor {name!r} in the Inception weights. {_HOW}")
    return {
        "params": traverse_util.unflatten_dict(params),
        "batch_stats": traverse_util.unflatten_dict(stats),
    }


def load_variables(path: str | None = None) -> tuple[dict, str]:
    """The FID Inception network's Flax variables and the hash of the file they came from."""
    found = locate(path)
    return to_flax_variables(read_state_dict(found)), file_hash(found)
