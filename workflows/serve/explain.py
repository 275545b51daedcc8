"""Why the model decided as it did, for one input at a time: `kerasforge explain INPUT… [--model models] --out DIR`.

The model's data kind reads the inputs and explains them (`DataKind.explain_inputs`, `DataKind.explain`):

- An image: Integrated Gradients (Sundararajan et al., 2017) of the predicted class's probability, from a black
  image to the input, as a heatmap over the image (`<image>.png`, titled with the class and its probability).
- A table row: each column's Integrated Gradients attribution, from the training rows' mean (numbers at their
  mean, no category, nothing missing) to the row; a one-hot or missing-indicator column counts once, as the
  column of the user's file it came from (`attributions.csv`, and a bar chart per row, `line_<N>.png`).
- Text (a text column of a table, or the `.txt` files of a `data=text_folder` model): each word's occlusion
  attribution, the predicted class's probability with the text whole minus without that word (token ids are
  not differentiable, so gradients do not apply), as a small page with the words coloured
  (`line_<N>_<column>.html`) and every word's score in `words.csv`.

Every run writes `explanations.csv` (one row per input: the prediction, its probability, and IG's completeness
gap: attributions must add up to f(input) − f(baseline)) into `--out`, atomically: a failed run leaves no part.

The two sanity checks of Adebayo et al. (2018), "Sanity Checks for Saliency Maps", are tested on these
attributions (tests/e2e/test_explain.py): they change when the model's weights are randomized (`--sanity` reports
the rank correlation with a randomized copy's, per input), and on inputs whose answer lies in one column or word
they put most of their mass there; on an image, the most attributed pixel lies in the answer's region, which holds
several times its share of the mass (IG from a black image gives the rest to a noisy background).

    kerasforge explain photos/cat.jpg --out why/
    kerasforge explain new_rows.csv --model models --out why/
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from plugins.data.attribution import STEPS
from plugins.data.kinds import kind_of
from plugins.registry import ConfigError
from workflows.io.atomic import atomic_dir
from workflows.io.card import read_card
from workflows.io.layout import REPO


def explain(
    inputs: list[str],
    model_dir: Path = REPO.models,
    out: Path = Path("explanations"),
    steps: int = STEPS,
    sanity: bool = False,
) -> list[dict[str, Any]]:
    """Explains each input's prediction and writes the results into `out` (replaced as a whole, atomically).

    Args:
        inputs: what the model's data kind takes: image or sound files or folders, one CSV file of rows (a table
            model), or `.txt` files (a text_folder model).
        model_dir: the directory of model.keras and model.json.
        out: the folder to write.
        steps: Integrated Gradients' steps.
        sanity: also explain with a randomized copy of the model and report the rank correlation per input.

    Returns:
        One summary row per input (as explanations.csv).

    Example:
    >>> explain(["photos/cat.jpg"], Path("models"), Path("why"))
    [{'input': 'photos/cat.jpg', 'prediction': 'cat', 'probability': 0.97, 'completeness_gap': 0.004}]
    """
    from plugins.data.base import DataSpec

    if not 4 <= steps <= 512:
        raise ConfigError(f"--steps {steps} must be between 4 and 512 (default {STEPS})")
    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the explanations")
    card = read_card(model_dir)
    spec = DataSpec(**card["spec"])
    kind = kind_of(spec)
    what = kind.explain_inputs(inputs, spec)  # checked before TensorFlow starts
    from plugins.model.head import Head
    from workflows.stages.evaluate import load_model

    model, _ = load_model(model_dir)
    head = Head(**card["head"])
    with atomic_dir(Path(out)) as tmp:
        summary = kind.explain(model, head, what, spec, tmp, steps, sanity)
        fields = list(dict.fromkeys(k for row in summary for k in row))
        with (tmp / "explanations.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()} for row in summary
            )
    return summary


def main(argv: list[str] | None = None) -> int:
    from workflows.io.console import run_cli

    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(
            prog="kerasforge explain",
            description=__doc__.split("\n\n")[0],
            epilog="Attributions: Integrated Gradients for images and table columns, occlusion for text's words.",
        )
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images or folders, one CSV, or .txt files")
        parser.add_argument("--model", default=str(REPO.models), help="the model's directory (default: models)")
        parser.add_argument("--out", default="explanations", help="the folder to write (default: explanations)")
        parser.add_argument("--steps", type=int, default=STEPS, help=f"Integrated Gradients' steps ({STEPS})")
        parser.add_argument(
            "--sanity", action="store_true", help="also compare with a randomized copy of the model (Adebayo et al.)"
        )
        ns = parser.parse_args(args)
        summary = explain(ns.inputs, Path(ns.model), Path(ns.out), ns.steps, ns.sanity)
        print(f"wrote {ns.out}/: {len(summary)} explanation(s) (explanations.csv)", file=sys.stderr)

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
