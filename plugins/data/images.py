"""Image data: your own folders (the `flow_from_directory` equivalent) and keras.datasets.

Pixels come out as float32 in [0, 1], shape (height, width, channels).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plugins.data.base import DataSpec, Splits, class_files, split_arrays, split_indices
from plugins.data.checks import inspect_folder
from plugins.registry import ConfigError, check_values, first_line, register

if TYPE_CHECKING:
    import tensorflow as tf

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
COLOR_MODES = {"rgb": 3, "grayscale": 1, "rgba": 4}
CLASS_MODES = ("sparse", "categorical", "binary")


def _reason(err: Exception) -> str:
    """TensorFlow's decoding error without its internal node names: `{{function_node …}}`, `[Op:DecodeImage]`."""
    text = re.sub(r"\{\{[^}]*\}\}|\[Op:[^\]]*\]|\s+name:\s*$", "", first_line(err)).strip().rstrip(".")
    return text[:120] or type(err).__name__


def check_images(
    files: list[Path], labels: list[int], channels: int, on_bad_file: str
) -> tuple[list[Path], list[int], list[Path]]:
    """Decodes every file once; a corrupt or non-image file fails (named) or is skipped, as `on_bad_file` says.

    Returns:
        The readable files, their labels, and the skipped files.
    """
    import tensorflow as tf

    from plugins.tf_startup import filtered_stderr

    good_files, good_labels, skipped = [], [], []
    with filtered_stderr(DECODER_NOISE):  # each file's fault is named by a one-line error, not twice
        for file, label in zip(files, labels):
            if readable(tf, file, channels, on_bad_file):
                good_files.append(file)
                good_labels.append(label)
            else:
                skipped.append(file)
    return good_files, good_labels, skipped


# What the C image libraries write straight to stderr about a damaged file, beside TensorFlow's own error.
DECODER_NOISE = re.compile(
    r"^(?:Premature end of JPEG file|Corrupt JPEG data: |Improper call to JPEG library|libpng (?:warning|error): )"
)


def readable(tf, file: Path, channels: int, on_bad_file: str) -> bool:
    """Whether one file decodes; a file too large, or unreadable with `on_bad_file=fail`, is a one-line error."""
    if too_large(file):  # read from its header, before a decode that would take gigabytes
        raise ConfigError(
            f"{file} has more than {MAX_PIXELS // 1_000_000} million pixels, more than an image "
            "data set needs; shrink it (the model sees data.target_size) or leave it out"
        )
    reason = decode_failure(tf, file, channels)
    if reason is not None and on_bad_file == "fail":
        raise ConfigError(f"{file} is not a readable image ({reason}); fix or delete it, or set data.on_bad_file=skip")
    return reason is None


def decode_failure(tf, file: Path, channels: int) -> str | None:
    """Why `file` does not decode as an image of `channels` channels (TensorFlow's reason, in one line), or None.

    Args:
        tf: the tensorflow module (imported by the caller, which has started it quietly).
        file: the image file.
        channels: 1 (grey) or 3 (RGB).

    Returns:
        None when it decodes, else the reason.
    """
    try:
        tf.io.decode_image(tf.io.read_file(str(file)), channels=channels, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as err:
        return _reason(err)
    return None


MAX_PIXELS = 40_000_000  # a 8000×5000 photograph; a 10000×10000 one would take 2.2 GB to decode
MAX_SIDE = 4096  # data.target_size


DEFAULT_SIDE = 128  # the longest side of the default size: larger pictures are scaled down to it


def default_size(files: list[Path], sample: int = 500) -> list[int]:
    """The images' median [height, width] (from up to `sample` files' headers), scaled down so that the longer side
    is at most DEFAULT_SIDE: small pictures are not upscaled (4× the pixels, 4× the time, nothing gained)."""
    from PIL import Image

    sizes = []
    for file in files[:: max(1, len(files) // sample)]:
        try:
            with Image.open(file) as image:
                sizes.append(image.size[::-1])
        except Exception:  # noqa: BLE001 — a file that is no image is named by the decode check that follows
            continue
    if not sizes:
        return [DEFAULT_SIDE, DEFAULT_SIDE]
    height, width = (float(v) for v in np.median(np.asarray(sizes, float), axis=0))
    scale = min(1.0, DEFAULT_SIDE / max(height, width))
    return [max(8, int(round(height * scale))), max(8, int(round(width * scale)))]


def too_large(file: Path) -> bool:
    """Whether an image's header says it has more than MAX_PIXELS pixels (Pillow reads only the header)."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 — not an image Pillow knows: TensorFlow's decode says what is wrong
        return False
    return width * height > MAX_PIXELS


def decode_dataset(files: list[Path], labels: list[int], size: tuple[int, int], channels: int) -> tf.data.Dataset:
    """A stream of (image, label): files are read and decoded lazily, in parallel, never all in memory."""
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        image = tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), size, antialias=True)
        return tf.ensure_shape(image, (*size, channels)), label

    paths = tf.constant([str(f) for f in files])
    return tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32))).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


# Its parameters' values, declared once (plugins/manifest.json carries them: refused before anything is imported).
FOLDER_VALUES = {
    "color_mode": {"choices": list(COLOR_MODES)},
    "class_mode": {"choices": list(CLASS_MODES)},
    "on_bad_file": {"choices": ["fail", "skip"]},
}


@register("data", "image_folder", task="classification", values=FOLDER_VALUES, inspect=inspect_folder, kind="image")
def image_folder(
    directory: str,
    target_size: list[int] | None = None,
    color_mode: str = "rgb",
    class_mode: str = "sparse",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    on_bad_file: str = "fail",
) -> Splits:
    """One sub-folder per class, like Keras's `flow_from_directory`.

    Args:
        directory: the root folder; each sub-folder is a class (sorted by name).
        target_size: [height, width] every image is resized to; None: the images' median size, scaled down so that
            its longer side is at most DEFAULT_SIDE (128) pixels (64×64 pictures stay 64×64).
        color_mode: "rgb", "grayscale" or "rgba".
        class_mode: "sparse" or "categorical" (class ids; the loss decides
            their final form), or "binary" (checks there are exactly two classes).
        val_fraction: share of the images kept for validation.
        test_fraction: share of the images kept for the test.
        seed: the (stratified) split's seed.
        on_bad_file: "fail" (a corrupt or non-image file stops prepare, named) or "skip" it.

    Returns:
        Splits streaming float32 images in [0, 1] and int32 labels.

    Example:
        `python -m workflows.train data=image_folder data.directory=photos 'data.target_size=[64,64]'`
    """
    check_values(
        FOLDER_VALUES, {"color_mode": color_mode, "class_mode": class_mode, "on_bad_file": on_bad_file}, "data"
    )
    if target_size is None:  # the pictures' median size (their headers), at most DEFAULT_SIDE a side
        target_size = default_size(class_files(Path(directory), EXTENSIONS)[1])
    if len(target_size) != 2 or min(target_size) < 1:
        raise ConfigError(f"data.target_size={list(target_size)} must be [height, width]")
    if max(target_size) > MAX_SIDE:
        raise ConfigError(
            f"data.target_size={list(target_size)}: at most {MAX_SIDE} pixels a side (one such float "
            "image is already 200 MB); models train on far smaller ones, e.g. [224, 224]"
        )
    channels = COLOR_MODES[color_mode]
    classes, files, labels = class_files(Path(directory), EXTENSIONS)
    if class_mode == "binary" and len(classes) != 2:
        raise ConfigError(f"data.class_mode=binary needs two class folders; {directory} has {len(classes)}")
    files, labels, skipped = check_images(files, labels, channels, on_bad_file)
    spec = DataSpec((*target_size, channels), "classification", len(classes), classes, kind="image")
    try:
        train, val, test = split_indices(np.array(labels), val_fraction, test_fraction, seed, stratify=True)
    except ConfigError:
        raise
    except ValueError as err:  # a class too small to stratify
        raise ConfigError(
            f"{directory}: cannot split {len(files)} images stratified ({first_line(err)}); add images to "
            "the smallest class or lower data.val_fraction/test_fraction"
        ) from None

    def subset(ids):
        return decode_dataset([files[i] for i in ids], [labels[i] for i in ids], tuple(target_size), channels)

    return Splits(subset(train), subset(val), subset(test), spec, skipped=[str(f) for f in skipped])


# keras.datasets: downloaded once into ~/.keras/datasets/ (KERAS_HOME/datasets/); the file to place there offline.
KERAS_DATASETS = {
    "mnist": ("mnist.npz", 10),
    "fashion_mnist": ("fashion-mnist/ (train-images-idx3-ubyte.gz and the three other files)", 10),
    "cifar10": ("cifar-10-batches-py.tar.gz", 10),
    "cifar100": ("cifar-100-python.tar.gz", 100),
}


def _keras_dataset(name: str, val_fraction: float, seed: int) -> Splits:
    import keras

    module = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as err:  # noqa: BLE001 — urllib, HTTP, or a half-downloaded archive
        from keras.src.backend.config import keras_home  # where keras.utils.get_file caches (KERAS_HOME)

        home = Path(keras_home())
        raise ConfigError(
            f"data={name}: the data set is not in the cache and could not be downloaded ({type(err).__name__}); "
            f"place {KERAS_DATASETS[name][0]} in {home / 'datasets'}/ or connect to the network"
        ) from None
    x = np.concatenate([x_train, x_test]).astype(np.float32) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    y = np.concatenate([y_train, y_test]).reshape(-1).astype(np.int32)
    classes = KERAS_DATASETS[name][1]
    spec = DataSpec(x.shape[1:], "classification", classes, [str(i) for i in range(classes)], kind="image")
    test_fraction = len(x_test) / len(x)  # the data set's own test split, stratified again under the seed
    return split_arrays(x, y, spec, val_fraction, test_fraction, seed)


def _register_keras_dataset(name: str) -> None:
    def load(val_fraction: float = 0.1, seed: int = 0) -> Splits:
        return _keras_dataset(name, val_fraction, seed)

    load.__name__ = name
    load.__doc__ = f"""keras.datasets.{name}: downloaded on first use and cached.

    Offline, a one-line error names the file to put in Keras's cache.

    Args:
        val_fraction: share of all images kept for validation (the test share is the data set's own).
        seed: the split's seed.
    """
    register("data", name, task="classification")(load)


for _name in KERAS_DATASETS:
    _register_keras_dataset(_name)
