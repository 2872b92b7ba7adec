"""DCGAN on CelebA faces with the customary preprocessing: a centred 108x108 crop, resized to 64.

    python -m gan.main --config=configs/dcgan_celeba.py --workdir=runs/dcgan_celeba

tfds downloads CelebA (about 1.4 GB) on first use; offline, build it elsewhere with
`tfds build celeb_a --data_dir=DIR` and pass `--config.data_dir=DIR`. 162,770 training images:
2,543 steps per epoch at batch 64.
"""

import ml_collections

from configs import dcgan_paper


def get_config() -> ml_collections.ConfigDict:
    """The default DCGAN recipe on CelebA."""
    config = dcgan_paper.get_config()
    config.dataset = "celeb_a"
    # 178x218 portraits: the central 108x108 square holds the face.
    config.crop_size = 108
    config.num_epochs = 5
    # Recognisability scores procedural_shapes only; FID during training needs the Inception
    # weights (--config.eval_every_steps=5000 with these metrics).
    config.eval_every_steps = 0
    config.eval_metrics = "fid,kid,pr"
    return config
