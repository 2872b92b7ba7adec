"""Checks of a config and a workdir before anything runs, each failure one clear paragraph."""

import os
import pathlib
import tempfile

import jax
from absl import logging

from gan import models, parallel
from gan.errors import UserError
from gan.models import dcgan
from gan.training import augment, losses

SUPPORTED_IMAGE_SIZES = (32, 64, 128)
SUPPORTED_CHANNELS = (1, 3)
POSITIVE_INT_KEYS = (
    "latent_dim",
    "ngf",
    "ndf",
    "batch_size",
    "shuffle_buffer_size",
    "log_every_steps",
    "sample_every_steps",
    "checkpoint_every_steps",
    "keep_checkpoints",
)


def _fail(key: str, value, requirement: str):
    raise UserError(
        f"Unsupported config value {key}={value!r}: {requirement}. Fix it in the config file "
        f"or override it with --config.{key}=VALUE."
    )


def validate_config(config) -> None:
    """Raises `UserError` for the first config value the model or the devices cannot use."""
    if config.image_size not in SUPPORTED_IMAGE_SIZES:
        _fail("image_size", config.image_size, f"DCGAN stages need one of {SUPPORTED_IMAGE_SIZES}")
    if config.num_channels not in SUPPORTED_CHANNELS:
        _fail("num_channels", config.num_channels, "use 1 (grayscale) or 3 (RGB)")
    for key in POSITIVE_INT_KEYS:
        if not isinstance(config[key], int) or config[key] <= 0:
            _fail(key, config[key], "it must be a positive integer")
    if config.batch_size % jax.device_count():
        _fail(
            "batch_size",
            config.batch_size,
            f"the global batch is split evenly over the {jax.device_count()} devices, so it "
            f"must be a multiple of {jax.device_count()}",
        )
    if config.num_train_steps <= 0 and config.num_epochs <= 0:
        _fail("num_epochs", config.num_epochs, "train for num_epochs > 0 or num_train_steps > 0")
    if not config.learning_rate > 0:
        _fail("learning_rate", config.learning_rate, "it must be positive")
    if not isinstance(config.crop_size, int) or config.crop_size < 0:
        _fail("crop_size", config.crop_size, "use 0 (largest square) or a positive side in pixels")
    if not config.cache_max_gb >= 0:
        _fail("cache_max_gb", config.cache_max_gb, "it must be >= 0 (0 always streams)")
    if not 0 <= config.beta1 < 1:
        _fail("beta1", config.beta1, "Adam's beta1 must lie in [0, 1)")
    validate_recipe(config)
    if config.state_sharding not in parallel.STATE_SHARDINGS:
        _fail("state_sharding", config.state_sharding, f"use one of {parallel.STATE_SHARDINGS}")
    if not config.fsdp_min_size_mb >= 0:
        _fail("fsdp_min_size_mb", config.fsdp_min_size_mb, "it must be >= 0 (0 shards every array)")


def validate_recipe(config) -> None:
    """Raises `UserError` for a loss, regulariser, optimiser or architecture setting that is
    unknown, out of range or contradicts another."""
    losses.get_loss(config.loss, config.label_smoothing)
    augment.parse_policy(config.diffaugment)
    if config.model not in models.MODELS:
        _fail("model", config.model, f"use one of {models.MODELS}")
    if config.model == "resnet" and config.image_size not in models.RESNET_IMAGE_SIZES:
        _fail("image_size", config.image_size, f"the ResNet has {models.RESNET_IMAGE_SIZES} px")
    if config.compute_dtype not in models.COMPUTE_DTYPES:
        _fail("compute_dtype", config.compute_dtype, f"use one of {models.COMPUTE_DTYPES}")
    if not isinstance(config.num_classes, int) or config.num_classes < 0:
        _fail("num_classes", config.num_classes, "use 0 (unconditional) or the number of classes")
    latent_codes = config.get("latent_codes", 0)
    if not isinstance(latent_codes, int) or latent_codes < 0:
        _fail("latent_codes", latent_codes, "use 0 (no code) or the number of categories")
    code_weight = config.get("latent_code_weight", 0.0)
    if not isinstance(code_weight, int | float) or code_weight < 0:
        _fail("latent_code_weight", code_weight, "use 0 (no mutual-information term) or more")
    if code_weight and not latent_codes:
        _fail("latent_code_weight", code_weight, "the term is about G's code: set latent_codes")
    code_view = config.get("latent_code_view", "features")
    if code_view not in models.CODE_VIEWS:
        _fail("latent_code_view", code_view, f"use one of {models.CODE_VIEWS}")
    clusters = config.get("self_conditioning_clusters", 0)
    if not isinstance(clusters, int) or not 0 <= clusters <= config.batch_size:
        _fail(
            "self_conditioning_clusters",
            clusters,
            f"use 0 (none) or a number of clusters up to batch_size ({config.batch_size}), "
            "since the first batch seeds them",
        )
    if sum(bool(k) for k in (config.num_classes, latent_codes, clusters)) > 1:
        _fail(
            "latent_codes" if latent_codes else "self_conditioning_clusters",
            latent_codes or clusters,
            "G draws for one kind of class: the data's (num_classes), D's clusters "
            "(self_conditioning_clusters) or its own code (latent_codes); set the others to 0",
        )
    if (latent_codes or clusters) and config.model != "dcgan":
        _fail(
            "model",
            config.model,
            "G's own code (latent_codes) and D's clusters (self_conditioning_clusters) are the "
            "DCGAN's: use dcgan, or num_classes for a conditional ResNet",
        )
    packing = config.get("d_packing", 1)
    if not isinstance(packing, int) or packing <= 0:
        _fail("d_packing", packing, "use a positive number of images per input of D (1: none)")
    if packing > 1 and config.model != "dcgan":
        _fail("d_packing", packing, f"the {config.model} D judges images one by one: use 1")
    if packing > 1 and (config.num_classes or clusters):
        _fail(
            "d_packing",
            packing,
            "a conditional D scores each image with its own class, a pack has several; "
            "use d_packing=1 with num_classes or self_conditioning_clusters",
        )
    if (config.batch_size // jax.device_count()) % packing:
        _fail(
            "d_packing",
            packing,
            f"each device packs its own images, so batch_size ({config.batch_size}) over the "
            f"{jax.device_count()} devices must be a multiple of it",
        )
    if config.d_norm not in dcgan.D_NORMS:
        _fail("d_norm", config.d_norm, f"use one of {dcgan.D_NORMS}")
    for key in ("n_critic", "r1_interval"):
        if not isinstance(config[key], int) or config[key] <= 0:
            _fail(key, config[key], "it must be a positive integer")
    for key in ("gp_weight", "r1_gamma"):
        if not config[key] >= 0:
            _fail(key, config[key], "a penalty weight must be >= 0 (0 disables it)")
    if config.get("r2_penalty", False) and not config.r1_gamma > 0:
        _fail("r2_penalty", True, "R2 takes R1's weight: set --config.r1_gamma > 0 too")
    if config.loss == "wgan_gp" and not config.gp_weight > 0:
        _fail("gp_weight", config.gp_weight, "the wgan_gp loss needs a penalty weight > 0 (10)")
    penalised = config.gp_weight > 0 or config.r1_gamma > 0
    if penalised and config.model == "dcgan" and config.d_norm == "batch":
        logging.warning(
            "A gradient penalty (gp_weight, r1_gamma) with BatchNorm in D: the penalty assumes "
            "each image's logit depends on that image alone, which BatchNorm breaks; use "
            "--config.d_norm=layer (as WGAN-GP does) or none."
        )
    if not 0 <= config.label_smoothing < 1:
        _fail("label_smoothing", config.label_smoothing, "it must lie in [0, 1)")
    if not 0 <= config.ema_decay < 1:
        _fail("ema_decay", config.ema_decay, "it must lie in [0, 1) (0 keeps no average)")
    if not (config.d_learning_rate > 0 or config.d_learning_rate == -1):
        _fail("d_learning_rate", config.d_learning_rate, "use a positive rate or -1 (G's)")
    decay = config.get("learning_rate_decay", 1.0)
    if not 0 <= decay <= 1:
        _fail("learning_rate_decay", decay, "use a fraction in [0, 1] (1: constant rates)")
    gamma_final = config.get("r1_gamma_final", -1.0)
    if not (gamma_final >= 0 or gamma_final == -1):
        _fail("r1_gamma_final", gamma_final, "use a weight >= 0 or -1 (keep r1_gamma)")
    annealed = [
        key
        for key, off in (("learning_rate_decay", 1.0), ("r1_gamma_final", -1.0))
        if config.get(key, off) != off
    ]
    if annealed and config.num_train_steps <= 0:
        _fail(
            annealed[0],
            config[annealed[0]],
            "a schedule runs to num_train_steps, which must be set (> 0)",
        )
    if not 0 <= config.beta2 < 1:
        _fail("beta2", config.beta2, "Adam's beta2 must lie in [0, 1)")
    if not isinstance(config.divergence_reports, int) or config.divergence_reports < 0:
        _fail("divergence_reports", config.divergence_reports, "use a count >= 0 (0: never)")


def prepare_workdir(workdir: str) -> pathlib.Path:
    """Creates `workdir` if needed and proves it writable, before any training time is spent."""
    path = pathlib.Path(workdir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise UserError(
            f"Cannot write to the workdir {str(path)!r} ({error.strerror or error}). Checkpoints, "
            "samples and logs go there: pass a --workdir on a disk you can write to "
            f"(user {os.getuid()})."
        ) from None
    return path
