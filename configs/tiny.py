"""A tiny DCGAN for tests and smoke runs: 32x32 images, narrow networks, a few steps.

    python -m gan.main --config=configs/tiny.py --workdir=/tmp/gan_tiny

Trains on the 512-image `tiny` variant of the embedded dataset in well under a minute on CPU.
"""

import ml_collections

from configs import dcgan_unconditional


def get_config() -> ml_collections.ConfigDict:
    """The unconditional DCGAN recipe shrunk until a train step takes milliseconds."""
    config = dcgan_unconditional.get_config()
    config.dataset = "procedural_shapes/tiny"
    config.image_size = 32
    config.latent_dim = 16
    config.ngf = 8
    config.ndf = 8
    config.batch_size = 8
    # float32 throughout: runs on 1, 4 or 2 x 2 devices then agree to float32 rounding, which
    # the parallelism tests check (bfloat16 rounding would hide a real difference).
    config.compute_dtype = "float32"
    # One learning rate: D's faster steps of the default (TTUR) grow float32 differences in the
    # order of sums faster than those tests' tolerance over their six steps.
    config.d_learning_rate = -1.0
    config.shuffle_buffer_size = 512
    config.num_epochs = 1
    config.num_train_steps = 6
    config.log_every_steps = 2
    config.sample_every_steps = 3
    config.checkpoint_every_steps = 3
    config.keep_checkpoints = 2
    config.eval_every_steps = 0  # recognisability reads 64x64 procedural_shapes only
    return config
