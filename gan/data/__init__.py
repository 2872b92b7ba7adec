"""Training images: sources (tfds, folders, .npz), the tf.data pipeline, the embedded dataset.

`python -m gan.data --config=configs/dcgan.py` inspects what the model will see.
"""
