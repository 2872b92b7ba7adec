"""The Flax FID Inception against pytorch-fid's network, and the torch-free weight reader.

pytorch-fid, torchvision and torch are test extras (`requirements-test.txt`, installed by
`make test`); without them these tests are skipped. The network is built by pytorch-fid itself
with random weights (its download is replaced by the random initialisation), saved with
`torch.save`, read back by `gan.evaluation.inception_weights` and converted, so the reader, the
conversion and every layer are tested.
"""

import jax
import numpy as np
import pytest

from gan.evaluation import inception, inception_weights
from tests.pytorch_fid_extra import import_pytorch_fid

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pytorch_fid_inception():
    return import_pytorch_fid("inception")


def _calibrate(batch_norm, inputs):
    """Sets BatchNorm's statistics to those of its input, before it normalises it."""
    batch_norm.running_mean.copy_(inputs[0].mean((0, 2, 3)))
    batch_norm.running_var.copy_(inputs[0].var((0, 2, 3)))


@pytest.fixture(scope="module")
def torch_network(pytorch_fid_inception):
    """pytorch-fid's FID network (no resize, for a small input) and its fc layer, random weights.

    BatchNorm statistics are set from one random batch, layer by layer, so that activations stay
    of order 1 through all 94 layers, and scales/biases are randomised so that their conversion
    is exercised. Positive biases keep most ReLUs active: a random network whose units are half
    off amplifies float32 rounding from layer to layer (to 1e-3 at pool3 with zero-centred
    biases), which would hide a real mismatch.
    """
    torch.manual_seed(0)
    built = []
    build = pytorch_fid_inception.fid_inception_v3
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: None)
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, state_dict: None)
        patch.setattr(
            pytorch_fid_inception, "fid_inception_v3", lambda: built.append(build()) or built[-1]
        )
        network = pytorch_fid_inception.InceptionV3(resize_input=False)
    (base,) = built
    batch_norms = [m for m in base.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for module in batch_norms:
        torch.nn.init.uniform_(module.weight, 0.5, 1.5)
        torch.nn.init.uniform_(module.bias, 1.0, 2.0)
    hooks = [m.register_forward_pre_hook(_calibrate) for m in batch_norms]
    base.eval()
    network.eval()
    with torch.no_grad():
        network(torch.rand(16, 3, 75, 75))
    for hook in hooks:
        hook.remove()
    return network, base


@pytest.fixture(scope="module")
def flax_variables(torch_network, tmp_path_factory):
    """The torch network's weights, saved by torch.save, read and converted without torch."""
    path = tmp_path_factory.mktemp("weights") / "inception.pth"
    torch.save(torch_network[1].state_dict(), path)
    return inception_weights.to_flax_variables(inception_weights.read_state_dict(path))


def test_pool3_and_logits_match_pytorch_fid(torch_network, flax_variables):
    network, base = torch_network
    images = np.random.default_rng(0).uniform(size=(2, 75, 75, 3)).astype(np.float32)
    with torch.no_grad():
        (pool3,) = network(torch.from_numpy(images.transpose(0, 3, 1, 2)))
        pool3 = pool3[:, :, 0, 0]
        logits = base.fc(pool3).numpy()
    apply = jax.jit(inception.FIDInceptionV3(resize_input=False).apply)
    outputs = apply(flax_variables, images)
    pool3 = pool3.numpy()
    diff = np.abs(np.asarray(outputs["pool3"]) - pool3).max()
    print(f"pool3 max abs diff {diff:.2e} (features up to {np.abs(pool3).max():.2f})")
    assert pool3.std() > 0.1  # activations did not vanish, so the comparison means something
    assert diff < 1e-4
    np.testing.assert_allclose(outputs["logits"], logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("source_size", [32, 64, 512])
def test_resize_matches_torch_bilinear(source_size):
    images = np.random.default_rng(1).uniform(size=(2, source_size, source_size, 3))
    images = images.astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(images.transpose(0, 3, 1, 2)),
        size=(inception.INPUT_SIZE, inception.INPUT_SIZE),
        mode="bilinear",
        align_corners=False,
    ).numpy()
    resized = np.asarray(inception.resize_bilinear(images, inception.INPUT_SIZE))
    np.testing.assert_allclose(resized.transpose(0, 3, 1, 2), expected, atol=1e-5)


@pytest.mark.parametrize("zip_format", [True, False])
def test_reads_both_pytorch_file_formats(tmp_path, zip_format):
    state = {
        "conv.weight": torch.randn(4, 3, 3, 3),
        "bn.running_var": torch.rand(4, dtype=torch.float64),
        "bn.num_batches_tracked": torch.tensor(7),
        "transposed": torch.randn(3, 5).t(),
    }
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    read = inception_weights.read_state_dict(path)
    assert list(read) == list(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(read[name], tensor.numpy())
        assert read[name].dtype == tensor.numpy().dtype
