"""Class-conditional DCGAN on the embedded data, conditioned on each image's shape.

    python -m gan.main --config=configs/cdcgan.py --workdir=runs/cdcgan

G's BatchNorm layers take a per-class scale and offset (class-conditional BatchNorm, de Vries
et al. 2017) and D adds a projection of its last features onto a learned class embedding
(Miyato & Koyama 2018), both as in the SNGAN/cGAN projection recipe, on the DCGAN networks.
The class is the procedural_shapes factor "shape" (8 classes); sample grids show one class per
column. For a tfds dataset with labels: --config.dataset=cifar10 --config.image_size=32
--config.label_key=label --config.num_classes=10. Everything else is configs/dcgan_paper.py.
"""

import ml_collections

from configs import dcgan_paper
from gan.data import procedural_shapes


def get_config() -> ml_collections.ConfigDict:
    """DCGAN's keys, with these overrides."""
    config = dcgan_paper.get_config()
    config.label_key = "shape"
    config.num_classes = len(procedural_shapes.SHAPES)
    return config
