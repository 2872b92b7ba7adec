"""Class-conditional training (`num_classes` > 0): labels from the data, the conditional
networks, the step, sampling by class, and the errors of a misconfigured run."""

import dataclasses
import functools
import itertools
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan import parallel, sample, trace
from gan.data import pipeline, procedural_shapes, sources
from gan.errors import UserError
from gan.evaluation import protocol
from gan.models import dcgan, outline_clusters, sampling
from gan.training import train, validation


@pytest.fixture
def conditional_config(tiny_config):
    """The tiny config, conditioned on the embedded data's shape (8 classes)."""
    tiny_config.label_key = "shape"
    tiny_config.num_classes = len(procedural_shapes.SHAPES)
    tiny_config.d_packing = 1  # a conditional D scores images one by one
    return tiny_config


@pytest.mark.parametrize("cache_max_gb", [8.0, 0.0], ids=["cached", "streamed"])
def test_every_batch_pairs_each_image_with_its_own_label(conditional_config, cache_max_gb):
    """Labels follow their images through shuffling, both paths and a resume mid-epoch."""
    conditional_config.cache_max_gb = cache_max_gb
    conditional_config.batch_size = 128  # 4 steps per epoch
    data = pipeline.prepare(conditional_config)
    images = pipeline.load_all(data.source, conditional_config)
    label_of = {
        image.tobytes(): label for image, label in zip(images, data.source.labels, strict=True)
    }
    assert len(label_of) == len(images)  # every tiny image is distinct
    batches = itertools.chain(
        itertools.islice(pipeline.train_batches(data, conditional_config), 6),
        itertools.islice(pipeline.train_batches(data, conditional_config, start_step=2), 3),
    )
    for batch in batches:
        assert batch["label"].dtype == np.int32
        pixels = np.rint(batch["image"] * 255).astype(np.uint8)
        assert [label_of[p.tobytes()] for p in pixels] == batch["label"].tolist()


def test_labels_are_the_drawn_shapes(conditional_config):
    """Each record's label is the shape factor the generator drew in that very image."""
    source = sources.load_source(conditional_config)
    shape_of = {}
    for index in range(source.num_examples):  # tfds stores examples in its own order
        image, factors = procedural_shapes.make_example("train", index)
        shape_of[image.tobytes()] = factors.shape
    decoded = source.records.map(source.decode).as_numpy_iterator()
    assert [shape_of[image.tobytes()] for image in decoded] == source.labels.tolist()
    assert np.bincount(source.labels, minlength=8).min() > 0


def test_misconfigured_labels_are_clear_errors(conditional_config, tmp_path):
    conditional_config.label_key = "colour"
    with pytest.raises(UserError, match="class features are shape, color, size, x, y"):
        sources.load_source(conditional_config)
    conditional_config.label_key, conditional_config.num_classes = "size", 8
    with pytest.raises(UserError, match="has 4 classes, but num_classes=8"):
        sources.load_source(conditional_config)
    conditional_config.dataset = f"folder:{tmp_path}"
    with pytest.raises(UserError, match="has no labels"):
        sources.load_source(conditional_config)


def test_the_class_changes_what_both_networks_compute():
    generator = dcgan.Generator(image_size=32, ngf=8, latent_dim=4, num_classes=3)
    discriminator = dcgan.Discriminator(ndf=8, num_classes=3)
    z = jnp.ones((3, 4))
    labels = jnp.arange(3)
    g_vars = generator.init(jax.random.key(0), z, train=False, labels=labels)
    # Class-conditional BatchNorm: no shared scale or offset, one row per class instead.
    norm = g_vars["params"]["ConditionalBatchNorm_0"]
    assert set(norm) == {"Embed_0", "Embed_1"}
    assert norm["Embed_0"]["embedding"].shape == (3, 32)  # the 4x4x32 map's channels
    images = generator.apply(g_vars, z, train=False, labels=labels)
    assert not np.allclose(images[0], images[1])  # same noise, different class
    d_vars = discriminator.init(jax.random.key(1), images, train=False, labels=labels)
    assert d_vars["params"]["class_projection"]["embedding"].shape == (3, 32)
    same_image = jnp.repeat(images[:1], 3, axis=0)
    logits = discriminator.apply(d_vars, same_image, train=False, labels=labels)
    assert len(np.unique(np.asarray(logits))) == 3  # one image, scored per claimed class


def test_spectral_norm_also_normalises_the_class_embedding():
    discriminator = dcgan.Discriminator(ndf=8, spectral_norm=True, num_classes=3)
    images = jax.random.uniform(jax.random.key(0), (3, 32, 32, 3))
    labels = jnp.arange(3)
    variables = discriminator.init(jax.random.key(1), images, train=False, labels=labels)
    scaled = jax.tree_util.tree_map_with_path(
        lambda path, x: x * 10.0 if "class_projection" in jax.tree_util.keystr(path) else x,
        variables["params"],
    )

    def logits(params):
        apply = functools.partial(discriminator.apply, train=True, labels=labels)
        return apply({**variables, "params": params}, images, mutable=["batch_stats"])[0]

    # Normalised by its largest singular value, a 10x larger embedding projects the same.
    np.testing.assert_allclose(logits(scaled), logits(variables["params"]), rtol=1e-5)


def test_conditional_run_trains_resumes_and_samples_by_class(conditional_config, tmp_path):
    state = train.train_and_evaluate(conditional_config, str(tmp_path))
    assert int(state.step) == conditional_config.num_train_steps
    assert (tmp_path / "samples" / "step_0000006.png").exists()
    restored = sample.restore_for_sampling(tmp_path, None)
    assert sampling.generator_classes(restored) == 8
    z = sampling.latent_noise(0, 16, conditional_config.latent_dim)
    cycled = sample.sample_labels(restored, 16, None, interpolate=False)
    np.testing.assert_array_equal(cycled, np.arange(16) % 8)
    np.testing.assert_array_equal(
        sample.sample_labels(restored, 16, None, interpolate=True), np.repeat([0, 1], 8)
    )
    one_class = sample.sample_labels(restored, 16, 5, interpolate=False)
    assert not np.array_equal(
        sample.generate_uint8(restored, z, cycled), sample.generate_uint8(restored, z, one_class)
    )
    with pytest.raises(UserError, match="classes 0 to 7"):
        sample.sample_labels(restored, 16, 8, interpolate=False)
    unconditional = restored.replace(generator=restored.generator.clone(num_classes=0))
    with pytest.raises(UserError, match="needs a class-conditional run"):
        sample.sample_labels(unconditional, 16, 1, interpolate=False)
    # The prediction trace: noise vectors take the classes in turn, real images their own.
    real, labels = protocol.real_examples(conditional_config, "train", 4)
    stored = tfds.load(
        conditional_config.dataset, split="train[:4]", data_dir=conditional_config.data_dir
    )
    np.testing.assert_array_equal(labels, [example["shape"] for example in tfds.as_numpy(stored)])
    assert real.shape == (4, 32, 32, 3)
    assert len(trace.write_trace(tmp_path, tmp_path / "trace", None, 3, 4, 0)) == 3


def test_jitted_step_takes_labels_sharded_with_their_images(conditional_config):
    """The loop's path: a dict batch placed on the mesh, then the compiled, donated step."""
    mesh = parallel.create_mesh()
    state = train.create_sharded_state(conditional_config, mesh)
    step_fn = train.jit_train_step(mesh, parallel.shardings_of(state))
    batch = {
        "image": np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32),
        "label": np.arange(8, dtype=np.int32),
    }
    state, metrics = step_fn(state, parallel.global_batch(batch, mesh))
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_latent_code_run_draws_codes_for_g_alone_and_samples_by_code(tiny_config, tmp_path):
    """With `latent_codes` G is built conditional on a code it draws itself; D stays
    unconditional, the data carry no labels, and grids and sampling take the codes in turn."""
    tiny_config.latent_codes = 4
    state = train.train_and_evaluate(tiny_config, str(tmp_path))
    assert int(state.step) == tiny_config.num_train_steps
    assert sampling.generator_classes(state) == 4
    assert "ConditionalBatchNorm_0" in state.g_params
    assert "class_projection" not in state.d_params
    z = jnp.repeat(sampling.latent_noise(0, 1, tiny_config.latent_dim), 4, axis=0)
    images = np.asarray(sampling.generate(state, z, jnp.arange(4)))
    assert len({image.tobytes() for image in images}) == 4  # one noise, four codes
    d = (state.d_params, state.d_batch_stats, state.d_opt_state)
    inputs = train._generator_inputs(state, jax.random.key(0), d, jnp.zeros((512,)), None)
    assert np.bincount(np.asarray(inputs[1]), minlength=4).min() > 100  # uniform codes
    tiny_config.num_classes = 8
    with pytest.raises(UserError, match="G draws for one kind of class"):
        validation.validate_config(tiny_config)


@pytest.mark.parametrize("view, q_layer", [("features", "code"), ("outline", "code_reader")])
def test_mutual_information_term_trains_g_and_q(tiny_config, view, q_layer):
    """InfoGAN's term reaches both players, whether Q reads D's features or the outlines: with
    it on, one step moves Q's last layer and moves G differently from the same step with the
    term's weight set to 0 (same weights, same noise); asking for the term without a code, or
    for a view Q has not, is refused."""
    tiny_config.latent_codes, tiny_config.latent_code_weight = 4, 1.0
    tiny_config.latent_code_view = view
    state = train.create_train_state(tiny_config, jax.random.PRNGKey(0))
    assert state.discriminator.code_categories == 4
    assert q_layer in state.d_params
    batch = {"image": jnp.asarray(np.random.default_rng(0).random((8, 32, 32, 3), np.float32))}
    step = jax.jit(train.train_step)
    with_term, metrics = step(state, batch)
    off = dataclasses.replace(state.options, latent_code_weight=0.0)
    without_term, _ = step(state.replace(options=off), batch)
    assert float(metrics["code_ce"]) > np.log(4) - 0.1  # Q starts knowing nothing
    assert 0.0 <= float(metrics["code_accuracy"]) <= 1.0

    def moved(new):
        last = [jax.tree.leaves(s.d_params[q_layer])[-1] for s in (new, state)]
        return np.abs(last[0] - last[1]).max()

    assert moved(with_term) > 0 and moved(without_term) == 0
    g_with, g_without = (jax.tree.leaves(s.g_params) for s in (with_term, without_term))
    assert any(not np.allclose(a, b) for a, b in zip(g_with, g_without, strict=True))
    tiny_config.latent_code_view = "pixels"
    with pytest.raises(UserError, match="latent_code_view"):
        validation.validate_config(tiny_config)
    tiny_config.latent_codes = 0
    with pytest.raises(UserError, match="set latent_codes"):
        validation.validate_config(tiny_config)


@pytest.fixture
def clustered_config(tiny_config):
    """The tiny config, conditioned on 4 clusters of the images' outlines (no label read)."""
    tiny_config.label_key = outline_clusters.LABEL_KEY
    tiny_config.num_classes = 4
    tiny_config.d_packing = 1
    return tiny_config


def test_outline_cluster_run_keeps_the_class_shares_and_draws_by_them(clustered_config, tmp_path):
    """The classes come from the images; G keeps their shares of the data, sampling draws each
    class that often, a resume finds the same classes, and a resume that would find others
    (changed data) is refused."""
    data = pipeline.prepare(clustered_config)
    shares = outline_clusters.shares(data.source.labels, 4)
    assert np.ptp(shares) > 0.02  # found classes are not equally common
    state = train.train_and_evaluate(clustered_config, str(tmp_path))
    np.testing.assert_allclose(state.g_batch_stats["class_shares"], shares)
    drawn = np.asarray(sampling.drawn_labels(state, 1000))
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 1000, shares, atol=0.002)
    real, labels = protocol.real_examples(clustered_config, "train", 4)
    assert labels is None and real.shape == (4, 32, 32, 3)  # evaluation reads no label

    clustered_config.num_train_steps = 9
    resumed = train.train_and_evaluate(clustered_config, str(tmp_path))
    assert int(resumed.step) == 9
    clustered_config.num_train_steps = 12
    changed = mock.patch.object(outline_clusters, "shares", return_value=np.full(4, 0.25))
    with changed, pytest.raises(UserError, match="the images or the clustering changed"):
        train.train_and_evaluate(clustered_config, str(tmp_path))


def test_outline_clusters_need_the_images_in_memory(clustered_config):
    clustered_config.cache_max_gb = 0.0
    with pytest.raises(UserError, match="streamed, not held in memory"):
        pipeline.prepare(clustered_config)


def test_the_resnet_takes_classes_but_not_the_dcgan_only_conditioning(conditional_config):
    conditional_config.model = "resnet"
    validation.validate_config(conditional_config)
    conditional_config.num_classes, conditional_config.latent_codes = 0, 4
    with pytest.raises(UserError, match="are the DCGAN's: use dcgan, or num_classes"):
        validation.validate_config(conditional_config)
