"""DCGAN (Radford et al. 2015) at 64x64 on the embedded procedural_shapes dataset.

    python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan

One epoch is 100_000 images (1_562 steps of 64). Override any key on the command line, e.g.
`--config.num_epochs=5 --config.learning_rate=1e-4`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """The default DCGAN recipe."""
    config = ml_collections.ConfigDict()

    # Data.
    # A tfds name (optionally name/config:version; `procedural_shapes` is embedded and generated
    # locally on first use, any other is downloaded by tfds), `folder:/path/to/images` (JPEG,
    # PNG, BMP, GIF, WebP, searched recursively) or `npz:/path/file.npz` ((N, H, W, C) uint8).
    config.dataset = "procedural_shapes"
    # tfds data directory; unset means tfds's default ($TFDS_DATA_DIR or ~/tensorflow_datasets).
    config.data_dir = ml_collections.config_dict.placeholder(str)
    # tfds split to train on (tfds slicing works: "train[:50%]").
    config.split = "train"
    # tfds feature holding the image.
    config.image_key = "image"
    # Side of the centred square crop in source pixels before resizing; 0 takes the largest
    # square (CelebA's customary crop is 108).
    config.crop_size = 0
    # Side of the square training images, in pixels: 32, 64 or 128.
    config.image_size = 64
    # 3 for RGB, 1 for grayscale (images are converted on decoding).
    config.num_channels = 3
    # Decoded images are kept in memory when they take at most this many GiB (100k 64x64x3
    # images: 1.2 GiB), making every epoch an exact permutation; larger datasets are streamed.
    config.cache_max_gb = 8.0
    # Examples in the shuffle buffer of streamed datasets (encoded, so large buffers are cheap).
    config.shuffle_buffer_size = 20_000

    # Model.
    # Length of the noise vector z.
    config.latent_dim = 100
    # Generator width: channels of its last hidden layer (the first has ngf * 2^(stages-1)).
    config.ngf = 64
    # Discriminator width: channels of its first conv (doubling at each stride-2 stage).
    config.ndf = 64

    # Optimisation.
    # Global batch (all devices, all processes); must divide by the number of devices.
    config.batch_size = 64
    # Passes over the training split.
    config.num_epochs = 5
    # Steps to train; > 0 overrides num_epochs, -1 derives it from num_epochs.
    config.num_train_steps = -1
    # Adam learning rate, for both networks.
    config.learning_rate = 2e-4
    # Adam beta1, for both networks (DCGAN's 0.5).
    config.beta1 = 0.5
    # Seeds initialisation, noise, data order and the sample-grid noise.
    config.seed = 0

    # Logging and checkpoints, in steps.
    # Console/TensorBoard trace row (also written at every epoch end).
    config.log_every_steps = 50
    # Fixed-noise 8x8 sample grid (PNG in WORKDIR/samples and TensorBoard).
    config.sample_every_steps = 500
    # Checkpoint to WORKDIR/checkpoints (also written at the end of training).
    config.checkpoint_every_steps = 500
    # Checkpoints kept on disk (oldest deleted first).
    config.keep_checkpoints = 3
    return config
