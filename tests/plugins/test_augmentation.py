"""Augmentation ops against references (np.fliplr, np.rot90), the idg mapping, fusion, and training-only use."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from plugins.augmentation._keras_layers import RandomAffine
from plugins.augmentation.warp import fuse, numpy_transform
from plugins.registry import REGISTRY, ConfigError, get
from workflows.config.command import resolve

OPS = sorted(
    n
    for n in REGISTRY.names("augmentation")
    if not get("augmentation", n).meta.get("mixes_labels")
    and get("augmentation", n).meta.get("modality")
    not in ("text", "audio")  # text: test_text_ops; sound: test_audio_ops
)
PARAMS = {
    "idg": {"rotation_range": 20, "width_shift_range": 0.2, "horizontal_flip": True, "brightness_range": [0.8, 1.2]}
}


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((8, 16, 16, 3), dtype=np.float32)


@pytest.mark.parametrize("name", OPS)
def test_every_op_keeps_shape_dtype_and_range_and_changes_something(images, name):
    layer = get("augmentation", name).build(PARAMS.get(name, {}), seed=0)
    out = np.asarray(layer(images, training=True))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= -1e-5 and out.max() <= 1 + 1e-5
    assert not np.allclose(out, images)  # it did augment
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)  # and not at inference


def test_horizontal_flip_is_fliplr(images):
    out = np.asarray(RandomAffine(horizontal_flip=True, flip_probability=1.0, seed=0)(images))
    np.testing.assert_allclose(out, images[:, :, ::-1, :], atol=1e-6)
    out = np.asarray(RandomAffine(vertical_flip=True, flip_probability=1.0, seed=0)(images))
    np.testing.assert_allclose(out, images[:, ::-1, :, :], atol=1e-6)


def test_a_90_degree_rotation_is_rot90_away_from_the_border():
    x = np.random.default_rng(1).random((1, 12, 12, 1), dtype=np.float32)
    one, zero = np.ones(1, "float32"), np.zeros(1, "float32")
    t = numpy_transform(np.pi / 2 * one, zero, one, one, zero, zero, one, one, 12, 12)  # TensorFlow's kernel: 8 terms
    t = np.concatenate([t, np.zeros((1, 2))], axis=1).astype("float32")
    out = np.asarray(ops.image.affine_transform(x, t, fill_mode="constant"))[0, ..., 0]
    expected = np.rot90(x[0, ..., 0])  # counter-clockwise, as a positive angle
    np.testing.assert_allclose(out[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-5)


def test_probability_zero_leaves_images_alone(images):
    layer = get("augmentation", "rotation").build({"degrees": 30, "probability": 0.0}, seed=0)
    np.testing.assert_allclose(np.asarray(layer(images, training=True)), images, atol=1e-6)
    half = get("augmentation", "rotation").build({"degrees": 30, "probability": 0.5}, seed=0)
    changed = [not np.allclose(a, b, atol=1e-6) for a, b in zip(np.asarray(half(images)), images)]
    assert 0 < sum(changed) < len(changed)


def test_consecutive_geometric_ops_fuse_into_one_warp(compose):
    augmenter = resolve(compose(["augmentation=flip_rotate_shift"])).build_augmenter()
    assert [type(layer).__name__ for layer in augmenter.layers] == ["RandomAffine"]
    assert augmenter.layers[0].components() == {"flip", "rotation", "shift"}
    # a photometric op between two geometric ones keeps them apart
    layers = fuse([get("augmentation", n).build({}, seed=0) for n in ("rotation", "brightness", "translation")])
    assert len(layers) == 3


def test_idg_preset_maps_image_data_generator_arguments(compose):
    experiment = resolve(
        compose(["augmentation=idg", "augmentation.ops.0.zoom_range=0.25", "augmentation.ops.0.shear_range=8"])
    )
    layer = experiment.build_augmenter().layers[0]
    assert isinstance(layer, RandomAffine)
    assert (layer.rotation, layer.width_shift, layer.height_shift, layer.shear) == (20.0, 0.2, 0.2, 8.0)
    assert layer.horizontal_flip and not layer.vertical_flip and layer.fill_mode == "nearest"
    assert layer.zoom == pytest.approx((1 / 1.25, 1 / 0.75))  # IDG's z < 1 zooms in; RandomAffine's z > 1 does
    with pytest.raises(ConfigError, match="give a fraction of the image size"):
        get("augmentation", "idg").build({"width_shift_range": 10}, seed=0)


def test_augmentation_is_deterministic_under_the_seed(images, compose):
    a = resolve(compose(["augmentation=flip_rotate_shift"])).build_augmenter()(images, training=True)
    b = resolve(compose(["augmentation=flip_rotate_shift"])).build_augmenter()(images, training=True)
    c = resolve(compose(["augmentation=flip_rotate_shift", "trainer.seed=1"])).build_augmenter()(images, training=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_online_augmentation_touches_training_batches_only(compose, tmp_path):
    import keras

    from workflows.stages.train import train

    experiment = resolve(
        compose(
            [
                "augmentation=online",
                "model=mlp",
                "model.units=[8]",
                "trainer.epochs=1",
                "trainer.verbose=0",
                "trainer.backup=false",
            ]
        )
    )
    splits = experiment.load_data()
    seen = {"train": [], "val": []}

    class Spy(keras.callbacks.Callback):
        pass

    original_batches = __import__("workflows.stages.train", fromlist=["batches"]).batches

    def spy(
        ds,
        head,
        batch_size,
        shuffle=False,
        seed=0,
        augmenter=None,
        shuffle_buffer=10_000,
        mixers=(),
        class_weights=None,
    ):
        seen["train" if shuffle else "val"].append(augmenter is not None)
        return original_batches(ds, head, batch_size, shuffle, seed, augmenter, shuffle_buffer, mixers, class_weights)

    import workflows.stages.train as train_module

    train_module.batches = spy
    try:
        train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l", callbacks=[Spy()])
    finally:
        train_module.batches = original_batches
    assert seen == {"train": [True], "val": [False]}


def test_unknown_fill_mode_is_refused(compose):
    with pytest.raises(ConfigError, match="augmentation.ops.0.fill_mode='mirrorr' is unknown; did you mean 'mirror'"):
        resolve(compose(["augmentation.ops.0.fill_mode=mirrorr"]))


def test_mixup_and_cutmix_mix_images_and_one_hot_labels_online(compose, tmp_path):
    import tensorflow as tf

    from workflows.stages.train import batches, train

    overrides = [
        "augmentation=online",
        "augmentation.ops=[{name: mixup, alpha: 0.4}, {name: cutmix}]",
        "loss=categorical_crossentropy",
        "model=mlp",
        "model.units=[8]",
        "trainer.epochs=1",
        "trainer.verbose=0",
        "trainer.backup=false",
    ]
    experiment = resolve(compose(overrides))
    splits = experiment.load_data()
    head = experiment.head(splits.spec)
    mixed = batches(splits.train, head, 64, shuffle=True, mixers=experiment.build_label_mixers())
    x, y = next(iter(mixed))
    np.testing.assert_allclose(tf.reduce_sum(y, axis=-1).numpy(), 1.0, atol=1e-5)  # still distributions
    assert (np.asarray(y).max(axis=-1) < 0.999).any()  # some labels are mixed
    assert float(tf.reduce_min(x)) >= 0.0 and float(tf.reduce_max(x)) <= 1.0
    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l")
    with pytest.raises(ConfigError, match="mixup/cutmix make soft labels, which loss 'auto'"):
        sparse = resolve(compose([o for o in overrides if not o.startswith("loss=")]))
        train(sparse, splits.train, splits.val, splits.spec, tmp_path / "n", tmp_path / "k")
    with pytest.raises(ConfigError, match="they run online only; set augmentation.online=true"):
        resolve(compose([*overrides, "augmentation.online=false"]))


def token_rows(seed: int = 0):
    """Token ids as a text column holds them: words, then padding (0) at the end of each row."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((64, 20), np.int32)
    for i, length in enumerate(rng.integers(0, 21, 64)):
        rows[i, :length] = rng.integers(1, 500, length)
    return rows


def test_token_dropout_drops_words_keeps_order_and_moves_padding_to_the_end():
    from plugins.augmentation.text_ops import TokenDropout

    tokens = token_rows()
    out = np.asarray(TokenDropout(0.3, seed=0)(ops.convert_to_tensor(tokens), training=True))
    assert out.shape == tokens.shape
    dropped = 0
    for before, after in zip(tokens, out):
        kept = after[after > 0]
        assert (after[len(kept) :] == 0).all()  # padding only after the words
        words = list(before[before > 0])
        it = iter(words)
        assert all(any(w == k for w in it) for k in kept)  # a subsequence: the same order
        dropped += len(words) - len(kept)
    total = int((tokens > 0).sum())
    assert 0.2 * total < dropped < 0.4 * total  # about the rate
    same = np.asarray(TokenDropout(0.3, seed=0)(ops.convert_to_tensor(tokens), training=False))
    np.testing.assert_array_equal(same, tokens)  # nothing at inference


def test_token_swap_trades_neighbours_only_and_never_with_padding():
    from plugins.augmentation.text_ops import TokenSwap

    tokens = token_rows(1)
    out = np.asarray(TokenSwap(0.3, seed=0)(ops.convert_to_tensor(tokens), training=True))
    assert not np.array_equal(out, tokens)
    for before, after in zip(tokens, out):
        np.testing.assert_array_equal(after == 0, before == 0)  # padding stays where it was
        assert sorted(after) == sorted(before)  # the same words
        moved = np.flatnonzero(after != before)
        for i in moved:  # each moved word came from a neighbour
            assert after[i] in (before[max(i - 1, 0)], before[min(i + 1, len(before) - 1)])


def test_text_ops_change_only_the_text_part_of_a_row_and_only_text_data(compose):
    from plugins.augmentation.text_ops import TextAugmentation, TokenDropout
    from plugins.data.base import DataSpec

    numbers = np.random.default_rng(0).random((64, 3), dtype=np.float32)
    rows = np.concatenate([numbers, token_rows().astype(np.float32)], axis=1)
    layer = TextAugmentation([TokenDropout(0.5, seed=0)], [(3, 20)])
    out = np.asarray(layer(ops.convert_to_tensor(rows), training=True))
    np.testing.assert_array_equal(out[:, :3], numbers)  # the numbers beside the text pass unchanged
    assert not np.array_equal(out[:, 3:], rows[:, 3:])
    experiment = resolve(compose(["augmentation=text"]))
    image = DataSpec((8, 8, 1), "classification", num_classes=2, kind="image")
    assert experiment.augments(image) is False  # token ops do nothing to images…
    assert resolve(compose(["augmentation=flip_rotate_shift"])).augments(image)  # …image ops do
