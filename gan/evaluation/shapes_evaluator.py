"""An evaluator network for the embedded dataset: a classifier of its ground-truth factors.

Offline, the Inception weights cannot be downloaded, yet a run on `procedural_shapes` still has
to be scored. The dataset's labels make that possible: this small CNN, trained by the project
on the real images, predicts shape, colour, size, x, y and background. Its penultimate layer
gives features for FID/KID/precision-recall in its own feature space, and its predictions
measure **factor coverage**: which of the 9,216 factor combinations generated images hit, and
how far the generated factor distribution is from the real one (`gan.evaluation.metrics`).

Train it once per data dir (a few minutes on a CPU); it is saved next to the dataset:

    python -m gan.train_shapes_evaluator --data_dir=~/tensorflow_datasets

Evaluation then finds it there (`load`).
"""

import json
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tensorflow_datasets as tfds
from flax import traverse_util

from gan.data import procedural_shapes
from gan.errors import UserError
from gan.evaluation.inception import resize_bilinear
from gan.evaluation.inception_weights import file_hash

INPUT_SIZE = procedural_shapes.IMAGE_SIZE
FACTOR_SIZES = {name: len(names) for name, names in procedural_shapes.FACTORS.items()}
FILE_NAME = "procedural_shapes_evaluator.npz"


class ShapesEvaluator(nn.Module):
    """Four stride-2 convolutions, a 256-d feature layer and one softmax head per factor."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    feature_dim: int = 256

    @nn.compact
    def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
        """Features and factor logits of float images in [0, 1], (N, H, W, 3), any size.

        Returns:
          {'features': (N, feature_dim), 'logits_<factor>': (N, classes) for every factor}.
        """
        x = resize_bilinear(images, INPUT_SIZE) * 2 - 1
        for width in self.widths:
            x = nn.relu(nn.Conv(width, (3, 3), strides=2)(x))
        # Flattening keeps where things are (x, y); a global pool would lose it.
        features = nn.relu(nn.Dense(self.feature_dim)(x.reshape(len(x), -1)))
        logits = {f"logits_{n}": nn.Dense(k, name=n)(features) for n, k in FACTOR_SIZES.items()}
        return {"features": features, **logits}


def default_path(data_dir: str) -> pathlib.Path:
    """Where the evaluator of a data dir lives."""
    return pathlib.Path(data_dir).expanduser() / FILE_NAME


def load_labelled(dataset: str, data_dir: str | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 64, 64, 3) uint8 and factors (N, 6) int of a `procedural_shapes` split."""
    examples = tfds.as_numpy(
        tfds.load(dataset, split=split, data_dir=data_dir, batch_size=-1, shuffle_files=False)
    )
    return examples["image"], np.stack([examples[name] for name in FACTOR_SIZES], axis=1)


def _loss(params, model, images, factors):
    outputs = model.apply({"params": params}, images)
    losses = [
        optax.softmax_cross_entropy_with_integer_labels(outputs[f"logits_{n}"], factors[:, i])
        for i, n in enumerate(FACTOR_SIZES)
    ]
    return jnp.mean(sum(losses))


def predict_factors(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 6) predicted factor indices from the evaluator's outputs."""
    return np.stack([np.argmax(outputs[f"logits_{n}"], -1) for n in FACTOR_SIZES], axis=1)


def train(images, factors, num_steps: int, batch_size: int = 64, seed: int = 0) -> dict:
    """Trains the evaluator with Adam on (images, factors); returns its variables."""
    model = ShapesEvaluator()
    rng = np.random.default_rng(seed)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3)))
    tx = optax.adam(optax.cosine_decay_schedule(1e-3, num_steps))
    params = params["params"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, images, factors):
        grads = jax.grad(_loss)(params, model, images.astype(jnp.float32) / 255.0, factors)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(num_steps):
        index = rng.integers(len(images), size=batch_size)
        params, opt_state = step(params, opt_state, images[index], factors[index])
    return {"params": params}


def save(variables: dict, metadata: dict, path: pathlib.Path) -> None:
    """Writes the variables (flattened, '/'-joined keys) and metadata as one `.npz`."""
    flat = traverse_util.flatten_dict(jax.device_get(variables), sep="/")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, metadata=json.dumps(metadata), **flat)


def load(path: pathlib.Path) -> tuple[dict, dict, str]:
    """The evaluator's variables, its metadata (accuracy...) and its file hash.

    Raises:
      UserError: there is no evaluator at `path` yet (the message gives the command).
    """
    if not path.is_file():
        raise UserError(
            f"No procedural_shapes evaluator at {str(path)!r}. Train it once (a few minutes on "
            f"a CPU) with `python -m gan.train_shapes_evaluator --data_dir={path.parent}`, or "
            "score with the Inception network instead (--extractor=inception)."
        )
    with np.load(path) as stored:
        metadata = json.loads(str(stored["metadata"]))
        flat = {key: stored[key] for key in stored.files if key != "metadata"}
    return traverse_util.unflatten_dict(flat, sep="/"), metadata, file_hash(path)


def factor_accuracy(variables: dict, images: np.ndarray, factors: np.ndarray) -> dict:
    """Per-factor accuracy of the evaluator on labelled images."""
    apply = jax.jit(ShapesEvaluator().apply)
    predicted = np.concatenate(
        [
            predict_factors(apply(variables, images[i : i + 256] / np.float32(255.0)))
            for i in range(0, len(images), 256)
        ]
    )
    return {n: float(np.mean(predicted[:, i] == factors[:, i])) for i, n in enumerate(FACTOR_SIZES)}
