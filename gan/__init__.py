"""DCGAN-family image GANs in JAX/Flax.

The commands are the top-level modules: `gan.main` (train), `gan.sample`, `gan.evaluate`,
`gan.trace`, `gan.train_shapes_evaluator`, and `gan.data` (inspect the input). The library
is grouped by job, each package depending only on those listed before it:

- `gan.data`: training images (tfds, folders, .npz, the embedded dataset) and the tf.data pipeline;
- `gan.models`: the networks, and sampling from a trained generator;
- `gan.evaluation`: metrics, feature networks, recognisability and the evaluation protocol;
- `gan.training`: the train state and step, the loop, checkpoints, and evaluation during training.

`gan.parallel` (devices and shardings), `gan.images` (grids and PNGs), `gan.errors` and
`gan.cli` are shared by all of them.
"""
