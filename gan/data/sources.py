"""Where training images come from: tfds datasets, image folders and `.npz` arrays.

`config.dataset` names the source:
  - a tfds name (`procedural_shapes`, `mnist`, `celeb_a`, `lsun/bedroom`, ...), read from
    `config.split` and the feature `config.image_key`;
  - `folder:/path/to/images`, every JPEG/PNG/BMP/GIF/WebP file below it;
  - `npz:/path/to/file.npz`, an (N, H, W, C) uint8 array, as `gan.sample` writes.

Each source gives this process's records in one fixed order (what makes the data order
reproducible), a function decoding a record to a uint8 (H, W, num_channels) image and, for
class-conditional training (`config.num_classes` > 0), every record's class from the tfds
feature `config.label_key` (classes found from the images themselves, `outline_clusters`, come
later, from the pipeline). What happens next (crop, resize, cache, shuffle, batch) is the same
for all: `gan.data.pipeline`.
"""

import dataclasses
import difflib
import pathlib
from collections.abc import Callable

import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import gan.data.procedural_shapes  # noqa: F401  (registers the embedded dataset with tfds)
from gan.errors import UserError
from gan.models import outline_clusters

EMBEDDED_DATASET = "procedural_shapes"
FOLDER_PREFIX = "folder:"
NPZ_PREFIX = "npz:"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclasses.dataclass(frozen=True)
class Source:
    """This process's share of a dataset, in canonical order.

    Attributes:
      name: what `config.dataset` said, for messages.
      records: one element per image (encoded bytes, or a uint8 array for `npz:`).
      num_examples: number of elements in `records`.
      decode: record -> uint8 (H, W, num_channels) image tensor.
      skipped: files left out because they could not be decoded (folders only).
      labels: int32 class of every record, in the same order; None unless conditional.
      decoded_cache: where the decoded images of this share may be kept between runs, as
        (directory, name); None where the data can change under the same name (folders) or
        is not encoded (npz).
    """

    name: str
    records: tf.data.Dataset
    num_examples: int
    decode: Callable[[tf.Tensor], tf.Tensor]
    skipped: tuple[str, ...] = ()
    labels: np.ndarray | None = None
    decoded_cache: tuple[pathlib.Path, str] | None = None


def load_source(config, whole: bool = False) -> Source:
    """Opens the source `config.dataset` names (preparing a tfds dataset if needed).

    Each process opens its own equal, disjoint share of the examples, as training reads them;
    with `whole`, every process opens all of them (evaluation's reference images, which every
    process must hold alike).

    Raises:
      UserError: unknown name, missing or empty data, data that cannot be downloaded, or
        labels asked of a source that has none.
    """
    is_file_source = config.dataset.startswith((FOLDER_PREFIX, NPZ_PREFIX))
    found_classes = outline_clusters.uses_outline_clusters(config)
    reads_labels = config.get("num_classes", 0) > 0 and not found_classes
    if reads_labels and is_file_source:
        raise UserError(
            f"num_classes={config.num_classes} asks for class-conditional training, but "
            f"{config.dataset!r} has no labels (image folders and .npz files hold images only). "
            "Use a tfds dataset with a class feature (--config.label_key), classes found from "
            f"the images' outlines (--config.label_key={outline_clusters.LABEL_KEY}), or set "
            "--config.num_classes=0."
        )
    shares = 1 if whole else jax.process_count()
    share = 0 if whole else jax.process_index()
    if config.dataset.startswith(FOLDER_PREFIX):
        return _folder_source(config.dataset, config.num_channels, shares, share)
    if config.dataset.startswith(NPZ_PREFIX):
        return _npz_source(config.dataset, config.num_channels, shares, share)
    return _tfds_source(config, shares, share, reads_labels)


def _share_slice(num_examples: int, shares: int, share: int) -> tuple[int, int]:
    """[start, stop) of share `share` of `shares` equal, disjoint ones (the remainder dropped).

    Equal shares keep every process at the same number of steps per epoch.
    """
    size = num_examples // shares
    return share * size, (share + 1) * size


def decode_image(encoded: tf.Tensor, num_channels: int) -> tf.Tensor:
    """Decodes PNG/JPEG/BMP/GIF (first frame)/WebP bytes to uint8 with `num_channels`.

    Every format decodes to RGB (grayscale repeated, alpha dropped, palettes expanded; GIF and
    WebP decoders accept nothing else); grayscale output is then mixed back, which returns a
    grayscale source's own pixel values exactly.
    """
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    return image if num_channels == 3 else tf.image.rgb_to_grayscale(image)


def _tfds_source(config, shares: int, share: int, reads_labels: bool) -> Source:
    builder = _tfds_builder(config.dataset, config.data_dir)
    if not builder.is_prepared():
        _prepare(builder, config.dataset)
    if config.image_key not in builder.info.features:
        raise UserError(
            f"Dataset {config.dataset!r} has no feature {config.image_key!r}; its features are "
            f"{', '.join(builder.info.features)}. Set --config.image_key to the image feature."
        )
    split = tfds.even_splits(config.split, n=shares, drop_remainder=True)
    try:
        examples = builder.as_dataset(
            split=split[share],
            shuffle_files=False,
            decoders={config.image_key: tfds.decode.SkipDecoding()},
        )
    except (ValueError, KeyError) as error:
        raise UserError(
            f"Dataset {config.dataset!r} cannot read split {config.split!r} ({error}). Set "
            "--config.split to one of its splits; tfds slicing such as 'train[:10%]' works."
        ) from None
    return Source(
        name=config.dataset,
        records=examples.map(lambda example: example[config.image_key]),
        num_examples=int(examples.cardinality()),  # tfds datasets know their size
        decode=lambda record: decode_image(record, config.num_channels),
        labels=_read_labels(builder, examples, config) if reads_labels else None,
        # A prepared tfds version never changes: its directory can hold the decoded images.
        decoded_cache=(pathlib.Path(builder.data_dir), f"{config.image_key}-{split[share]}"),
    )


def _read_labels(builder: tfds.core.DatasetBuilder, examples: tf.data.Dataset, config):
    """Every example's class from the `config.label_key` feature, which must be a ClassLabel
    with `config.num_classes` classes (the model's embedding tables have that many rows)."""
    class_features = {
        name: feature
        for name, feature in builder.info.features.items()
        if isinstance(feature, tfds.features.ClassLabel)
    }
    feature = class_features.get(config.label_key)
    if feature is None:
        raise UserError(
            f"Class-conditional training reads classes from the feature {config.label_key!r}, "
            f"which {config.dataset!r} does not have as a class label; its class features are "
            f"{', '.join(class_features) or 'none'}. Set --config.label_key to one of them, or "
            "--config.num_classes=0 for unconditional training."
        )
    if feature.num_classes != config.num_classes:
        raise UserError(
            f"The feature {config.label_key!r} of {config.dataset!r} has {feature.num_classes} "
            f"classes, but num_classes={config.num_classes}. Set "
            f"--config.num_classes={feature.num_classes}."
        )
    labels = examples.map(lambda example: example[config.label_key]).batch(8192)
    return np.concatenate(list(labels.as_numpy_iterator())).astype(np.int32)


def _tfds_builder(name: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = name.split("/")[0].split(":")[0]
        close = difflib.get_close_matches(base, tfds.list_builders(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(
            f"Unknown dataset {name!r}: it is neither the embedded {EMBEDDED_DATASET!r}, a "
            f"tensorflow-datasets name, {FOLDER_PREFIX}PATH nor {NPZ_PREFIX}FILE.{hint} Set "
            "--config.dataset to one of the names listed at "
            "https://www.tensorflow.org/datasets/catalog, or to your own images."
        ) from None


def _prepare(builder: tfds.core.DatasetBuilder, name: str) -> None:
    if builder.name == EMBEDDED_DATASET:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
        return
    try:
        builder.download_and_prepare()
    except Exception as error:  # noqa: BLE001  (network and download errors come in many types)
        raise UserError(
            f"Dataset {name!r} is not in the tfds data dir {builder.data_dir_root} and could not "
            f"be downloaded ({type(error).__name__}: {str(error).splitlines()[0][:200]}). On a "
            f"machine with internet run `tfds build {name} --data_dir=DIR` (or this same command), "
            f"copy DIR here and pass --config.data_dir=DIR; or train on the embedded "
            f"{EMBEDDED_DATASET!r} dataset, which needs no download."
        ) from None


def list_image_files(root: pathlib.Path) -> list[str]:
    """Image files below `root` (by extension, any case), sorted so every run sees one order."""
    return sorted(
        str(path)
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    )


def find_decodable(files: list[str]) -> list[str]:
    """The files TensorFlow can fully decode, in the given order, decoding in parallel.

    Truncated or corrupt files fail in the decoder; finding them before training keeps the
    order of the good ones fixed, so resumed runs see the same batches.
    """
    checked = tf.data.Dataset.from_tensor_slices(files).map(
        lambda path: (path, tf.shape(decode_image(tf.io.read_file(path), 3))),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return [path.decode() for path, _ in checked.ignore_errors().as_numpy_iterator()]


def _folder_source(dataset: str, num_channels: int, shares: int, share: int) -> Source:
    root = pathlib.Path(dataset.removeprefix(FOLDER_PREFIX)).expanduser()
    if not root.is_dir():
        raise UserError(f"{dataset!r}: {str(root)!r} is not a directory.")
    files = list_image_files(root)
    start, stop = _share_slice(len(files), shares, share)
    files = files[start:stop]
    if not files:
        raise UserError(
            f"{dataset!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}, searched "
            "recursively). Point it at the directory that contains your images."
        )
    good = find_decodable(files)
    if not good:
        raise UserError(f"None of the {len(files)} image files in {str(root)!r} can be decoded.")
    good_set = set(good)
    return Source(
        name=dataset,
        records=tf.data.Dataset.from_tensor_slices(good).map(tf.io.read_file),
        num_examples=len(good),
        decode=lambda record: decode_image(record, num_channels),
        skipped=tuple(path for path in files if path not in good_set),
    )


def convert_channels(image: tf.Tensor, num_channels: int) -> tf.Tensor:
    """uint8 (H, W, 1|3|4) -> (H, W, num_channels); alpha is dropped, gray repeated or mixed."""
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] == num_channels:
        return image
    if num_channels == 3:
        return tf.image.grayscale_to_rgb(image)
    return tf.image.rgb_to_grayscale(image)


def _npz_source(dataset: str, num_channels: int, shares: int, share: int) -> Source:
    path = pathlib.Path(dataset.removeprefix(NPZ_PREFIX)).expanduser()
    try:
        with np.load(path) as arrays:
            key = "images" if "images" in arrays else next(iter(arrays.files), None)
            images = arrays[key] if key else np.zeros((0,), np.uint8)
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read {dataset!r} as an .npz file ({error}).") from None
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise UserError(
            f"{dataset!r} must hold uint8 images shaped (N, H, W, C) with C in 1, 3, 4 (key "
            f"'images' or its only array); found {images.dtype} {images.shape}."
        )
    start, stop = _share_slice(len(images), shares, share)
    if stop == start:
        raise UserError(f"{dataset!r} holds no images.")
    return Source(
        name=dataset,
        records=tf.data.Dataset.from_tensor_slices(images[start:stop]),
        num_examples=stop - start,
        decode=lambda record: convert_channels(record, num_channels),
    )
