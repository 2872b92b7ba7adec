"""Scores a generator: features of generated and real images, metrics, and their protocol.

Data flow: generated images (`sampling.generate` in batches) and real images (the training
pipeline's decode/crop/resize, at the run's `image_size`) -> an extractor (the FID Inception
network, or the embedded dataset's evaluator) -> `gan.evaluation.metrics`. The real side is the
same for every checkpoint of a run, so its outputs (features, mean and covariance) are cached as
`.npz` in the data dir, keyed by dataset, split, resolution, extractor (with its weights' hash)
and number of images.

Published FIDs differ by 5-10 points from protocol alone (feature network, resizing, sample
counts, reference split), so every result carries its `protocol` next to the numbers.
"""

import dataclasses
import functools
import json
import os
import pathlib
import re
from collections.abc import Callable, Iterator

import jax
import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from gan import parallel
from gan.data import pipeline, procedural_shapes, sources
from gan.errors import UserError
from gan.evaluation import inception, inception_weights, metrics, recognisability, shapes_evaluator
from gan.models import sampling

# Metrics computed from a feature network's outputs on generated (and real) images;
# label_accuracy: the evaluator's reading of a conditional sample's class against its label.
FEATURE_METRICS = ("fid", "kid", "is", "pr", "coverage", "label_accuracy")
# Recognisability reads the generated pictures themselves: no network, no real images.
METRICS = FEATURE_METRICS + ("recognisable",)
EXTRACTORS = ("inception", "shapes")
BATCH = 100  # images per extractor call
EMBEDDED_DATASET = "procedural_shapes"
RESULTS_FILE = "eval.jsonl"  # one JSON line per evaluation, in the workdir
# The value each metric's first score is ranked by, and whether lower is better.
PRIMARY_SCORES = {
    "fid": ("fid", True),
    "kid": ("kid", True),
    "is": ("is", False),
    "pr": ("recall", False),
    "coverage": ("factor_kl", True),
    "label_accuracy": ("label_accuracy", False),
    "recognisable": ("recognisable", False),
}


@dataclasses.dataclass(frozen=True)
class Extractor:
    """A feature network ready to apply.

    Attributes:
      name: 'inception' or 'shapes'.
      weights_hash: first 8 hex digits of the weights file's SHA-256.
      resizer: how images reach the network's input size.
      apply: float images in [0, 1] (N, H, W, C) -> dict of (N, ...) outputs, with 'features'.
      metadata: what else identifies the weights (the evaluator's test accuracy).
    """

    name: str
    weights_hash: str
    resizer: str
    apply: Callable[[np.ndarray], dict]
    metadata: dict = dataclasses.field(default_factory=dict)


def default_extractor(dataset: str) -> str:
    """The evaluator for the embedded dataset (no download needed), Inception otherwise."""
    return "shapes" if dataset.split("/")[0] == EMBEDDED_DATASET else "inception"


def data_dir_of(config) -> pathlib.Path:
    """The tfds data dir of `config` (its `data_dir`, else $TFDS_DATA_DIR or tfds's default)."""
    data_dir = config.data_dir or os.environ.get("TFDS_DATA_DIR") or tfds.core.constants.DATA_DIR
    return pathlib.Path(data_dir).expanduser()


def create_extractor(name: str, config, inception_path: str | None = None) -> Extractor:
    """Loads the named feature network.

    Raises:
      UserError: unknown name, or its weights are missing.
    """
    if name == "inception":
        variables, weights_hash = inception_weights.load_variables(inception_path)
        network = inception.FIDInceptionV3()
        apply = jax.jit(lambda x: _rename(network.apply(variables, x)))
        resizer = "bilinear to 299x299 (align_corners=False), as pytorch-fid"
        return Extractor("inception", weights_hash, resizer, apply)
    if name == "shapes":
        path = shapes_evaluator.default_path(data_dir_of(config))
        variables, metadata, weights_hash = shapes_evaluator.load(path)
        apply = jax.jit(functools.partial(shapes_evaluator.ShapesEvaluator().apply, variables))
        resizer = f"bilinear to {shapes_evaluator.INPUT_SIZE}x{shapes_evaluator.INPUT_SIZE}"
        return Extractor("shapes", weights_hash, resizer, apply, metadata)
    raise UserError(f"Unknown extractor {name!r}; use one of {', '.join(EXTRACTORS)}.")


def _rename(outputs: dict) -> dict:
    return {"features": outputs["pool3"], "logits": outputs["logits"]}


def extract(
    extractor: Extractor, batches: Iterator[np.ndarray], mesh: jax.sharding.Mesh
) -> dict[str, np.ndarray]:
    """Runs the extractor over uint8 NHWC batches (grayscale repeated to RGB), each split over
    the devices of `mesh`; every process passes the same batches and receives every output."""
    outputs = []
    for batch in batches:
        images = batch.astype(np.float32) / np.float32(255.0)
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        sharded, size = parallel.split_over_mesh(images, mesh)
        outputs.append({k: parallel.to_host(v)[:size] for k, v in extractor.apply(sharded).items()})
    return {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}


def generated_labels(state, num: int) -> np.ndarray | None:
    """The classes `generated_batches` draws its `num` images for (`sampling.drawn_labels`);
    None for a generator of z alone."""
    labels = sampling.drawn_labels(state, num)
    return None if labels is None else np.asarray(labels)


def generated_batches(state, num: int, seed: int) -> Iterator[np.ndarray]:
    """`num` generated images as uint8 batches, for the classes of `generated_labels`; the
    noise is a pure function of `seed`."""
    z = sampling.latent_noise(seed, num, state.generator.latent_dim)
    return sampling.generate_batches(state, z, generated_labels(state, num), BATCH)


def real_examples(config, split: str, num: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first `num` images of `split`, decoded, cropped and resized as training sees them,
    and their classes (None unless the run is class-conditional). Every process reads them all.

    Raises:
      UserError: the split holds fewer than `num` images, or the dataset cannot be read.
    """
    reference = config.copy_and_resolve_references()
    reference.split = split if ":" in config.dataset else f"{split}[:{num}]"
    source = sources.load_source(reference, whole=True)
    pictures = pipeline.load_all(source, reference)[:num]
    if len(pictures) < num:
        raise UserError(
            f"The reference split {split!r} of {config.dataset!r} has {len(pictures)} images, "
            f"fewer than the {num} asked for; lower --num_samples or choose a larger split."
        )
    return pictures, None if source.labels is None else source.labels[:num]


def reference_outputs(
    config, extractor: Extractor, split: str, num: int, mesh: jax.sharding.Mesh
) -> dict:
    """Extractor outputs on real images plus their mean and covariance, cached in the data dir.

    The images are split over the devices of `mesh` (see `extract`).

    Returns:
      {'features', other outputs..., 'mu', 'sigma'} as numpy arrays.
    """
    key = f"{config.dataset}_{split}_{config.image_size}px_{config.num_channels}ch"
    key += f"_{extractor.name}-{extractor.weights_hash}_{num}"
    file_name = re.sub(r"[^\w.-]+", "-", key) + ".npz"
    path = data_dir_of(config) / "reference_statistics" / file_name
    if path.is_file():
        with np.load(path) as cached:
            return dict(cached)
    logging.info("Computing reference features of %d real images into %s.", num, path)
    pictures, _ = real_examples(config, split, num)
    batches = (pictures[i : i + BATCH] for i in range(0, num, BATCH))
    outputs = extract(extractor, batches, mesh)
    outputs["mu"], outputs["sigma"] = metrics.gaussian_statistics(outputs["features"])
    if jax.process_index() == 0:  # every process computed the same; one writes
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **outputs)
    return outputs


def needs_features(names: tuple[str, ...]) -> bool:
    """Whether any of the metrics needs a feature network (and real reference images)."""
    return any(name in FEATURE_METRICS for name in names)


def check_request(
    names: tuple[str, ...], extractor_name: str | None, num_samples: int, config
) -> None:
    """Refuses unknown metrics, IS or coverage without their network, recognisability off the
    embedded dataset, label accuracy of a run not conditioned on one of its factors, and too
    few samples.

    Args:
      names: the metrics asked for.
      extractor_name: the feature network they would use.
      num_samples: generated images to score.
      config: the run's config (dataset, num_classes, label_key).

    Raises:
      UserError: what is wrong and what to ask for instead.
    """
    dataset = config.dataset
    unknown = set(names) - set(METRICS)
    if unknown:
        raise UserError(f"Unknown metric(s) {sorted(unknown)}; choose from {', '.join(METRICS)}.")
    if "is" in names and extractor_name != "inception":
        raise UserError("The Inception Score needs ImageNet classes: use --extractor=inception.")
    if "coverage" in names and extractor_name != "shapes":
        raise UserError(
            "Factor coverage needs the procedural_shapes evaluator (--extractor=shapes), "
            "which only exists for the embedded dataset."
        )
    if "recognisable" in names and dataset.split("/")[0] != EMBEDDED_DATASET:
        raise UserError(
            f"Recognisability fits the outlines of the {EMBEDDED_DATASET} shapes, so it only "
            f"scores runs on {EMBEDDED_DATASET}, not on {dataset!r}; drop it from the metrics."
        )
    if "label_accuracy" in names:
        factors = shapes_evaluator.FACTOR_SIZES
        conditioned = config.num_classes and config.label_key in factors
        if extractor_name != "shapes" or not conditioned:
            raise UserError(
                "Label accuracy reads a conditional sample's class with the procedural_shapes "
                f"evaluator (--extractor=shapes), so it needs a class-conditional run on "
                f"{EMBEDDED_DATASET} whose label_key is one of its factors ({', '.join(factors)}"
                f"); this run has num_classes={config.num_classes}, "
                f"label_key={config.label_key!r}, extractor {extractor_name!r}."
            )
    if num_samples < 10:
        raise UserError(f"--num_samples={num_samples} is too few to score; use at least 10.")


def compute_metrics(
    names, real: dict, fake: dict, labels: np.ndarray | None = None, label_key: str = ""
) -> dict[str, float]:
    """The requested metrics from real and generated extractor outputs; label accuracy also
    needs the classes the images were generated for and the factor they are classes of."""
    scores = {}
    if "fid" in names:
        mu, sigma = metrics.gaussian_statistics(fake["features"])
        scores["fid"] = metrics.frechet_distance(mu, sigma, real["mu"], real["sigma"])
    if "kid" in names:
        scores["kid"], scores["kid_std"] = metrics.kernel_inception_distance(
            real["features"], fake["features"]
        )
    if "is" in names:
        scores["is"], scores["is_std"] = metrics.inception_score(fake["logits"])
    if "pr" in names:
        scores["precision"], scores["recall"] = metrics.precision_recall(
            real["features"], fake["features"]
        )
    if "coverage" in names:
        real_factors = shapes_evaluator.predict_factors(real)
        fake_factors = shapes_evaluator.predict_factors(fake)
        sizes = tuple(shapes_evaluator.FACTOR_SIZES.values())
        scores["coverage"] = metrics.factor_coverage(fake_factors, sizes)
        scores["coverage_real"] = metrics.factor_coverage(real_factors, sizes)
        kls = metrics.factor_kl(real_factors, fake_factors, sizes)
        scores["factor_kl"] = float(sum(kls))
        names_kls = zip(shapes_evaluator.FACTOR_SIZES, kls, strict=True)
        scores.update({f"factor_kl_{name}": kl for name, kl in names_kls})
    if "label_accuracy" in names:
        column = list(shapes_evaluator.FACTOR_SIZES).index(label_key)
        predicted = shapes_evaluator.predict_factors(fake)[:, column]
        classes = procedural_shapes.FACTORS[label_key]
        overall, *per_class = metrics.class_accuracy(predicted, labels, len(classes))
        scores["label_accuracy"] = overall
        scores.update({f"label_accuracy_{c}": a for c, a in zip(classes, per_class, strict=True)})
    return scores


def evaluate(
    state,
    config,
    names: tuple[str, ...],
    num_samples: int,
    extractor: Extractor | None,
    split: str = "train",
    seed: int = 0,
) -> dict:
    """Scores the generator of `state` against `num_samples` real images of `split`.

    Args:
      state: a train state (its generator is used in inference mode).
      config: the run's config (dataset, resolution, data dir).
      names: metrics from `METRICS`.
      num_samples: generated images, and real reference images.
      extractor: the feature network; None when no metric needs one (`needs_features`).
      split: the reference split.
      seed: seed of the generated images' noise.

    Returns:
      {'step', the metric values..., 'protocol': {...}}.

    Raises:
      UserError: an impossible request (see `check_request`), or unreadable reference data.
    """
    check_request(tuple(names), extractor and extractor.name, num_samples, config)
    mesh = parallel.mesh_of(state)
    logging.info("Scoring %d images on %d devices.", num_samples, mesh.size)
    generated = list(generated_batches(state, num_samples, seed))
    labels = generated_labels(state, num_samples)
    protocol = {"image_size": config.image_size, "num_generated": num_samples, "noise_seed": seed}
    scores = {}
    if needs_features(names):
        real = reference_outputs(config, extractor, split, num_samples, mesh)
        fake = extract(extractor, iter(generated), mesh)
        scores = compute_metrics(names, real, fake, labels, config.label_key)
        protocol |= {
            "extractor": extractor.name,
            "weights_sha256": extractor.weights_hash,
            "resizer": extractor.resizer,
            "num_real": num_samples,
            "reference": f"{config.dataset}:{split}",
            **extractor.metadata,
        }
    if "recognisable" in names:
        fits = recognisability.shape_fits(np.concatenate(generated))
        scores.update(recognisability.summarise(fits))
        if labels is not None and config.label_key == "shape":
            scores["recognisable_as_label"] = recognisability.recognisable_as(fits, labels)
        protocol["recognisable_threshold"] = recognisability.THRESHOLD
    return {"step": int(jax.device_get(state.step)), **scores, "protocol": protocol}


def append_result(workdir: pathlib.Path, result: dict) -> str:
    """Appends `result` as one JSON line to WORKDIR/eval.jsonl and returns the line."""
    line = json.dumps(result)
    with open(workdir / RESULTS_FILE, "a") as f:
        f.write(line + "\n")
    return line
