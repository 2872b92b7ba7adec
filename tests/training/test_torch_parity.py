"""Parity of `train.train_step` with the PyTorch DCGAN update of `benchmarks.torch_dcgan`.

The same weights, real batches and noise go through both; losses, gradient norms and updated
parameters must agree to float32 precision, so any difference in training dynamics between the
two code bases would be a bug rather than DCGAN's own behaviour. torch is a test extra
(requirements-test.txt, installed by `make test`); the module is skipped where it is missing.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from configs import dcgan_paper
from gan.models import strided_conv
from gan.training import train

torch = pytest.importorskip("torch")
torch_dcgan = pytest.importorskip("benchmarks.torch_dcgan")

# float32 on both sides: relative agreement of ~1e-4 leaves room for reordered sums.
RTOL = 1e-4
ATOL = 1e-6


def parity_config():
    """Radford et al.'s recipe (configs/dcgan_paper.py), the update PyTorch's reference
    computes, at sizes where the steps in both frameworks stay cheap on CPU."""
    config = dcgan_paper.get_config()
    config.dataset = "procedural_shapes/tiny"
    config.image_size = 32
    config.latent_dim = 8
    config.ngf = 4
    config.ndf = 4
    config.batch_size = 8
    config.compute_dtype = "float32"  # parity to float32 rounding, whatever the default
    return config


def create_torch_models(config):
    """The PyTorch networks, with DCGAN's initialisation, in training mode."""
    generator, discriminator = torch_dcgan.create_models(config)
    return generator.train(), discriminator.train()


def transpose_conv_kernel(weight) -> np.ndarray:
    """ConvTranspose2d (in, out, kh, kw) -> `UpConv` (kh, kw, in, out), flipped.

    `UpConv` has `nn.ConvTranspose`'s unflipped (transpose_kernel=False) meaning,
    which is a true transposed convolution only with the spatially flipped kernel.
    """
    return weight.detach().permute(2, 3, 0, 1).flip(0, 1).numpy()


def dense_kernel(weight) -> np.ndarray:
    """ConvTranspose2d(latent, C, 4, 1, 0) (latent, C, 4, 4) -> Dense (latent, 4*4*C).

    On a 1x1 input its output is out[n, c, h, w] = sum_l z[n, l] W[l, c, h, w]; the Dense output
    is reshaped to NHWC (n, h, w, c), so the columns run over (h, w, c).
    """
    latent = weight.shape[0]
    return weight.detach().permute(0, 2, 3, 1).reshape(latent, -1).numpy()


def conv_kernel(weight) -> np.ndarray:
    """Conv2d (out, in, kh, kw) -> Flax Conv (kh, kw, in, out)."""
    return weight.detach().permute(2, 3, 1, 0).numpy()


def torch_variables(module) -> tuple[dict, dict]:
    """A torch DCGAN network's (params, batch_stats) under the Flax modules' names."""
    params, stats = {}, {}
    counts = {"conv": 0, "transpose": 0, "bn": 0}
    for layer in module:
        if isinstance(layer, torch.nn.ConvTranspose2d):
            if layer.stride == (1, 1):
                params["Dense_0"] = {"kernel": dense_kernel(layer.weight)}
            else:
                name = f"UpConv_{counts['transpose']}"
                params[name] = {"kernel": transpose_conv_kernel(layer.weight)}
                counts["transpose"] += 1
        elif isinstance(layer, torch.nn.Conv2d):
            params[f"Conv_{counts['conv']}"] = {"kernel": conv_kernel(layer.weight)}
            counts["conv"] += 1
        elif isinstance(layer, torch.nn.BatchNorm2d):
            name = f"BatchNorm_{counts['bn']}"
            params[name] = {
                "scale": layer.weight.detach().numpy(),
                "bias": layer.bias.detach().numpy(),
            }
            stats[name] = {"mean": layer.running_mean.numpy(), "var": layer.running_var.numpy()}
            counts["bn"] += 1
    return params, stats


def assert_outputs_close(actual, expected):
    """allclose with the absolute tolerance set by the output's scale.

    A logit is a sum of thousands of products; where they cancel, the result is small but its
    rounding error still scales with the summands, so an element-wise relative bound would
    fail on whichever CPU sums in another order.
    """
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


def assert_trees_close(actual, expected, what: str, rtol: float = RTOL, atol: float = ATOL):
    """Leaf-by-leaf allclose; the message names the worst leaf and its max abs/rel difference."""
    actual = traverse_util.flatten_dict(jax.device_get(actual), sep="/")
    expected = traverse_util.flatten_dict(expected, sep="/")
    assert actual.keys() == expected.keys(), f"{what}: {sorted(actual)} != {sorted(expected)}"
    report = []
    for key in sorted(actual):
        a, e = np.asarray(actual[key]), np.asarray(expected[key])
        assert a.shape == e.shape, f"{what}/{key}: shape {a.shape} != {e.shape}"
        abs_diff = np.abs(a - e)
        rel_diff = abs_diff / np.maximum(np.abs(e), 1e-12)
        if not np.all(abs_diff <= atol + rtol * np.abs(e)):
            report.append(f"{key}: max abs {abs_diff.max():.3g}, max rel {rel_diff.max():.3g}")
    assert not report, f"{what} differ: " + "; ".join(report)


def assert_scalar_close(actual, expected, what: str, rtol: float = RTOL):
    """One metric against its torch value; the message gives both and their differences."""
    actual, expected = float(actual), float(expected)
    abs_diff = abs(actual - expected)
    assert abs_diff <= rtol * abs(expected) + ATOL, (
        f"{what}: ours {actual:.8g}, torch {expected:.8g}, abs {abs_diff:.3g}, "
        f"rel {abs_diff / max(abs(expected), 1e-12):.3g}"
    )


def create_state_from_torch(config, generator, discriminator) -> train.TrainState:
    """A Flax train state holding the torch networks' weights, with fresh optimizer states."""
    # Jitted, initialisation compiles once instead of op by op (seconds less on CPU).
    state = jax.jit(functools.partial(train.create_train_state, config))(jax.random.PRNGKey(0))
    g_params, g_stats = jax.tree.map(jnp.asarray, torch_variables(generator))
    d_params, d_stats = jax.tree.map(jnp.asarray, torch_variables(discriminator))
    assert jax.tree.structure(g_params) == jax.tree.structure(state.g_params)
    assert jax.tree.structure(d_params) == jax.tree.structure(state.d_params)
    return state.replace(
        g_params=g_params,
        g_batch_stats=g_stats,
        g_opt_state=state.g_tx.init(g_params),
        d_params=d_params,
        d_batch_stats=d_stats,
        d_opt_state=state.d_tx.init(d_params),
    )


def nchw(images: np.ndarray):
    """NHWC numpy images -> an NCHW torch tensor."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def nhwc(images) -> np.ndarray:
    """NCHW torch images -> NHWC numpy."""
    return images.detach().permute(0, 2, 3, 1).numpy()


def grad_norm(module) -> float:
    """Global L2 norm of the module's gradients, as `optax.global_norm` computes it."""
    return float(torch.sqrt(sum(p.grad.double().pow(2).sum() for p in module.parameters())))


def create_torch_step(generator, discriminator, config):
    """`benchmarks.torch_dcgan.create_train_step`'s update, with the batch and noise as inputs."""
    loss = torch.nn.BCEWithLogitsLoss()
    betas = (config.beta1, 0.999)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas)
    g_opt = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    ones = torch.ones(config.batch_size, 1)
    zeros = torch.zeros(config.batch_size, 1)

    def step(real, z) -> dict:
        discriminator.zero_grad(set_to_none=True)
        real_logits = discriminator(real)
        err_d_real = loss(real_logits, ones)
        err_d_real.backward()
        fake = generator(z[:, :, None, None])
        fake_logits = discriminator(fake.detach())
        err_d_fake = loss(fake_logits, zeros)
        err_d_fake.backward()
        d_grad_norm = grad_norm(discriminator)
        d_opt.step()
        generator.zero_grad(set_to_none=True)
        err_g = loss(discriminator(fake), ones)
        err_g.backward()
        g_opt.step()
        return {
            "d_loss": (err_d_real + err_d_fake).item(),
            "g_loss": err_g.item(),
            "d_grad_norm": d_grad_norm,
            "g_grad_norm": grad_norm(generator),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
        }

    return step


def test_up_conv_matches_torch_conv_transpose():
    """The flipped-kernel mapping turns ConvTranspose2d(4, 2, 1) into `UpConv`."""
    torch.manual_seed(0)
    layer = torch.nn.ConvTranspose2d(3, 5, 4, 2, 1, bias=False)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32)
    kernel = transpose_conv_kernel(layer.weight)
    ours = strided_conv.UpConv(5).apply({"params": {"kernel": kernel}}, jnp.asarray(x))
    assert_outputs_close(ours, nhwc(layer(nchw(x))))


def test_forward_passes_match_torch():
    """With copied weights, G (train mode) and D give torch's images and logits."""
    config = parity_config()
    generator, discriminator = create_torch_models(config)
    state = create_state_from_torch(config, generator, discriminator)
    z = np.random.default_rng(1).normal(size=(8, config.latent_dim)).astype(np.float32)
    fake, _ = state.generator.apply(
        {"params": state.g_params, "batch_stats": state.g_batch_stats},
        jnp.asarray(z),
        train=True,
        mutable=["batch_stats"],
    )
    torch_fake = generator(torch.from_numpy(z)[:, :, None, None])
    assert_outputs_close(fake, nhwc(torch_fake))
    logits = train._apply_discriminator(state, state.d_params, state.d_batch_stats, fake, None)[0]
    assert_outputs_close(logits, discriminator(torch_fake).detach().numpy()[:, 0])


@pytest.mark.parametrize("num_steps", [1, 3])
def test_train_step_matches_torch(num_steps):
    """Same weights, batches and z: same losses, gradient norms and updated parameters."""
    config = parity_config()
    generator, discriminator = create_torch_models(config)
    state = create_state_from_torch(config, generator, discriminator)
    torch_step = create_torch_step(generator, discriminator, config)
    train_step = jax.jit(train.train_step)
    shape = (config.batch_size, config.image_size, config.image_size, config.num_channels)
    data_rng = np.random.default_rng(2)
    for step in range(num_steps):
        real = data_rng.uniform(size=shape).astype(np.float32)  # train_step's [0, 1] input
        # The noise train_step draws internally, recomputed here to feed torch.
        z = jax.random.normal(
            jax.random.fold_in(state.rng, state.step), (config.batch_size, config.latent_dim)
        )
        state, metrics = train_step(state, {"image": jnp.asarray(real)})
        expected = torch_step(nchw(real * 2.0 - 1.0), torch.from_numpy(np.array(z)))
        for name, value in expected.items():
            assert_scalar_close(metrics[name], value, f"step {step + 1} {name}")
    g_params, _ = torch_variables(generator)
    d_params, _ = torch_variables(discriminator)
    assert_trees_close(state.g_params, g_params, f"G params after {num_steps} steps")
    assert_trees_close(state.d_params, d_params, f"D params after {num_steps} steps")
