"""DCGAN exactly as Radford et al. (2015) trained it, on the embedded procedural_shapes data.

    python -m gan.main --config=configs/dcgan_paper.py --workdir=runs/dcgan_paper

The paper's recipe, kept beside the default (configs/dcgan.py) so that the two can be
compared: Adam with learning rate 2e-4 and beta1 0.5, the non-saturating loss, BatchNorm in D
(after its first layer) and in G, weights drawn from N(0, 0.02), no penalty, no weight
average, 64 channels and batches of 64 (the default halves both), five epochs. Data, logging
and evaluation are the default's.
"""

import ml_collections

from configs import dcgan


def get_config() -> ml_collections.ConfigDict:
    """The default config with the paper's recipe keys."""
    config = dcgan.get_config()
    config.num_classes = 0
    config.label_key = "label"
    config.loss = "non_saturating"
    config.d_norm = "batch"
    config.d_spectral_norm = False
    config.d_packing = 1
    config.r1_gamma = 0.0
    config.r1_interval = 1
    config.ema_decay = 0.0
    config.diffaugment = ""
    config.learning_rate = 2e-4
    config.d_learning_rate = -1.0
    config.beta1 = 0.5
    config.beta2 = 0.999
    config.ngf = 64
    config.ndf = 64
    config.batch_size = 64
    config.num_train_steps = -1
    config.num_epochs = 5
    return config
