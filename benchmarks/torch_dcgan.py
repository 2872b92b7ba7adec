"""The DCGAN of `gan/models/dcgan.py` and its train step in PyTorch, as a throughput yardstick.

Layer for layer the networks of `gan.models` (a transposed conv where the Flax generator has a
dense map, and torch's own convolutions where it has matrix-product ones: the same functions
with the same parameters), for any image size in (32, 64, 128). At 64x64x3 with latent_dim=100
and ngf=ndf=64 they are exactly the canonical PyTorch DCGAN example, and the step is its update:
D on real, D on the detached fake batch, an Adam step, then a G step through D on the same fake
batch, with BCEWithLogits.

torch is a benchmark extra (requirements-bench.txt): only `benchmarks.train_step` and the
PyTorch control of `experiments.one_epoch` import this.
"""

from collections.abc import Callable

import torch
from torch import nn

from gan.models.dcgan import num_resolution_stages


def create_generator(image_size: int, num_channels: int, latent_dim: int, ngf: int) -> nn.Module:
    """z (N, latent_dim, 1, 1) -> 4x4 transposed conv -> stride-2 upsampling -> tanh image.

    Args:
      image_size: side of the generated images (32, 64 or 128).
      num_channels: channels of the generated images.
      latent_dim: length of z.
      ngf: channels of the last hidden layer; the first has ngf * 2^(stages-1).

    Returns:
      The generator, NCHW images in [-1, 1].
    """
    stages = num_resolution_stages(image_size)
    width = ngf * 2 ** (stages - 1)
    layers = [
        nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(True),
    ]
    for stage in range(1, stages):
        features = ngf * 2 ** (stages - 1 - stage)
        layers += [
            nn.ConvTranspose2d(width, features, 4, 2, 1, bias=False),
            nn.BatchNorm2d(features),
            nn.ReLU(True),
        ]
        width = features
    layers += [nn.ConvTranspose2d(width, num_channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def create_discriminator(image_size: int, num_channels: int, ndf: int) -> nn.Module:
    """Image -> stride-2 4x4 convs, LeakyReLU(0.2), BatchNorm but on the first -> one logit.

    Args:
      image_size: side of the input images (32, 64 or 128).
      num_channels: channels of the input images.
      ndf: channels of the first conv, doubling at each stride-2 stage.

    Returns:
      The discriminator, (N, 1) logits.
    """
    layers = []
    width = num_channels
    for stage in range(num_resolution_stages(image_size)):
        features = ndf * 2**stage
        layers.append(nn.Conv2d(width, features, 4, 2, 1, bias=False))
        if stage > 0:
            layers.append(nn.BatchNorm2d(features))
        layers.append(nn.LeakyReLU(0.2, True))
        width = features
    layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten()]
    return nn.Sequential(*layers)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation (the example's `weights_init`): conv weights N(0, 0.02), BatchNorm
    scales N(1, 0.02) and offsets 0, as `gan.models` initialises its networks."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def create_models(config) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator described by `config` (the keys of configs/dcgan.py),
    initialised as DCGAN's are."""
    torch.manual_seed(config.seed)
    generator = create_generator(
        config.image_size, config.num_channels, config.latent_dim, config.ngf
    )
    discriminator = create_discriminator(config.image_size, config.num_channels, config.ndf)
    return generator.apply(dcgan_init), discriminator.apply(dcgan_init)


def num_params(module: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


def default_device() -> torch.device:
    """The GPU when PyTorch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_num_threads(threads: int) -> int:
    """Sets torch's intra-op CPU threads (0 keeps torch's default); returns the number in use."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def synchronize(device: torch.device) -> None:
    """Waits for the queued GPU work, so a clock read after it covers the steps."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def create_train_step(
    generator: nn.Module, discriminator: nn.Module, config, device: torch.device, bf16: bool
) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """One D update then one G update per call, on a given real batch or a fixed random one.

    Args:
      generator: from `create_models`; moved to `device` and trained in place.
      discriminator: likewise.
      config: batch_size, image_size, num_channels, latent_dim, learning_rate and beta1 are read.
      device: where the models, the batch and the noise live.
      bf16: run the forward passes under bfloat16 autocast.

    Returns:
      A function running one step, on `real` (NCHW in [-1, 1], on `device`) when given, else on
      a fixed random batch (for timing); it returns D's logits on the real and fake batch of
      its D update. The work may still be queued when it returns (GPU).
    """
    generator.to(device).train()
    discriminator.to(device).train()
    # Autotuned convolution algorithms on GPU, as PyTorch's own DCGAN example sets.
    torch.backends.cudnn.benchmark = device.type == "cuda"
    loss = nn.BCEWithLogitsLoss()
    betas = (config.beta1, 0.999)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas)
    g_opt = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    shape = (config.batch_size, config.num_channels, config.image_size, config.image_size)
    fixed_real = torch.rand(shape, device=device) * 2 - 1
    ones = torch.ones(config.batch_size, 1, device=device)
    zeros = torch.zeros(config.batch_size, 1, device=device)

    def step(real: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        real = fixed_real if real is None else real
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            discriminator.zero_grad(set_to_none=True)
            real_logits = discriminator(real).float()
            loss(real_logits, ones).backward()
            z = torch.randn(config.batch_size, config.latent_dim, 1, 1, device=device)
            fake = generator(z)
            fake_logits = discriminator(fake.detach()).float()
            loss(fake_logits, zeros).backward()
            d_opt.step()
            generator.zero_grad(set_to_none=True)
            loss(discriminator(fake).float(), ones).backward()
            g_opt.step()
        return real_logits.detach(), fake_logits.detach()

    return step
