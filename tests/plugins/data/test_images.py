"""Image folders (flow_from_directory's equivalent) and keras.datasets, with their errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from plugins.data.base import to_numpy
from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.config.command import resolve
from workflows.io.datastore import load_split, save_splits


def make_folder(root: Path, classes=("cat", "dog"), per_class=12, size=(20, 24)) -> Path:
    """Images the test draws: class k is bright in its k-th quadrant; PNG and JPEG mixed."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = (rng.random((*size, 3)) * 60).astype(np.uint8)
            image[(k // 2) * 10 : (k // 2) * 10 + 10, (k % 2) * 12 : (k % 2) * 12 + 12] += 180
            encoded = tf.io.encode_png(image) if i % 2 else tf.io.encode_jpeg(image)
            (root / name / f"{i}.{'png' if i % 2 else 'JPG'}").write_bytes(encoded.numpy())
    return root


def folder_experiment(compose, directory, *extra, model=("model=mlp", "model.units=[8]")):
    return resolve(
        compose(
            [
                "data=image_folder",
                f"data.directory={directory}",
                "data.target_size=[16,16]",
                *model,
                "augmentation=none",
                *extra,
            ]
        )
    )


def test_image_folder_streams_resized_images_in_stratified_splits(compose, tmp_path):
    splits = folder_experiment(compose, make_folder(tmp_path / "photos")).load_data()
    assert splits.spec.input_shape == (16, 16, 3) and splits.spec.class_names == ["cat", "dog"]
    x, y = to_numpy(splits.train)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    sizes = [int(s.cardinality()) for _, s in splits.items()]
    assert sum(sizes) == 24 and sorted(np.bincount(y)) == [8, 8]
    save_splits(splits, tmp_path / "prepared")  # the sharded on-disk format the pipeline streams from
    assert int(load_split("test", tmp_path / "prepared").cardinality()) == sizes[2]


def test_grayscale_and_binary_modes(compose, tmp_path):
    splits = folder_experiment(
        compose, make_folder(tmp_path / "p"), "data.color_mode=grayscale", "data.class_mode=binary"
    ).load_data()
    assert splits.spec.input_shape == (16, 16, 1)
    with pytest.raises(ConfigError, match="class_mode=binary needs two class folders"):
        folder_experiment(compose, make_folder(tmp_path / "q", ("a", "b", "c")), "data.class_mode=binary").load_data()


def test_a_corrupt_file_is_named_or_skipped(compose, tmp_path, capfd):
    root = make_folder(tmp_path / "photos")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    (root / "cat" / "notes.jpg").write_text("a text file")
    with pytest.raises(ConfigError) as err:
        folder_experiment(compose, root).load_data()
    assert "notes.jpg is not a readable image" in str(err.value) or "broken.png is not a readable image" in str(
        err.value
    )
    assert "data.on_bad_file=skip" in str(err.value)
    assert "function_node" not in str(err.value) and "[Op:" not in str(err.value)  # no TensorFlow internals
    skipping = folder_experiment(compose, root, "data.on_bad_file=skip")
    splits = skipping.load_data()
    assert sum(int(s.cardinality()) for _, s in splits.items()) == 24
    assert sorted(Path(f).name for f in splits.skipped) == ["broken.png", "notes.jpg"]
    from workflows.io.layout import Layout
    from workflows.stages.prepare import run as prepare

    capfd.readouterr()
    prepare(skipping, Layout(tmp_path / "run"))
    warning = capfd.readouterr().err
    listed = tmp_path / "run" / "data" / "prepared" / "skipped.txt"
    assert warning.startswith("warning: skipped 2 unreadable file(s): ") and f"the full list: {listed}" in warning
    assert sorted(Path(line).name for line in listed.read_text().splitlines()) == ["broken.png", "notes.jpg"]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("missing", "data.directory: no such directory"),
        ("empty_class", "has no images (jpg/jpeg/png/bmp/gif)"),
        ("one_class", "has 1 class folder (cat); classification needs at least two"),
    ],
)
def test_bad_folders_are_one_line_errors(compose, tmp_path, layout, expected):
    root = tmp_path / "photos"
    if layout == "empty_class":
        make_folder(root)
        (root / "empty").mkdir()
    elif layout == "one_class":
        make_folder(root, ("cat",))
    with pytest.raises(ConfigError) as err:
        folder_experiment(compose, root).load_data()
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_cnn_trains_on_an_image_folder(compose, tmp_path):
    from workflows.runners.pipeline import run_pipeline

    experiment = folder_experiment(
        compose,
        make_folder(tmp_path / "photos", per_class=20),
        "trainer.epochs=3",
        "trainer.verbose=0",
        "trainer.backup=false",
        "augmentation=flip_rotate_shift",
        "augmentation.copies=1",
        model=("model=cnn", "model.filters=[8]", "model.dense=16"),
    )
    metrics = run_pipeline(experiment, tmp_path / "run")
    assert metrics["examples"] == 8 and 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_keras_datasets_offline_without_cache_name_the_file(compose, monkeypatch, tmp_path, name):
    import keras.src.backend.config as keras_config
    import keras.src.utils.file_utils as file_utils

    monkeypatch.setattr(keras_config, "keras_home", lambda: str(tmp_path))  # an empty cache

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(file_utils.urllib.request, "urlretrieve", no_network)
    with pytest.raises(ConfigError) as err:
        resolve(compose([f"data={name}"])).load_data()
    message = str(err.value)
    assert f"data={name}: the data set is not in the cache and could not be downloaded" in message
    assert str(tmp_path / "datasets") in message and "\n" not in message


def test_a_truncated_jpeg_is_one_line_without_the_decoders_own(tmp_path):
    # libjpeg writes "Premature end of JPEG file" straight to stderr; the command's one line names the file.
    root = make_folder(tmp_path / "photos")
    whole = (root / "cat" / "0.JPG").read_bytes()
    (root / "cat" / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    result = run(
        [
            sys.executable,
            "-m",
            "workflows.train",
            "data=image_folder",
            f"data.directory={root}",
            "data.target_size=[16,16]",
            "model=mlp",
            "augmentation=none",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        ROOT,
        check=False,
    )
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "cut.jpg is not a readable image" in lines[0] and "JPEG file" not in result.stderr.replace(lines[0], "")


def test_the_default_size_follows_the_pictures_and_never_upscales(compose, tmp_path):
    """64×64 pictures stay 64×64; 300×200 ones are scaled down to 128 on the longer side, keeping their shape."""

    def default_shape(folder):
        experiment = resolve(
            compose(["data=image_folder", f"data.directory={folder}", "model=mlp", "augmentation=none"])
        )
        return experiment.load_data().spec.input_shape

    assert default_shape(make_folder(tmp_path / "small", size=(64, 64))) == (64, 64, 3)
    assert default_shape(make_folder(tmp_path / "wide", per_class=10, size=(200, 300))) == (85, 128, 3)
