"""One page per run: `kerasforge report RUN_DIR --html` gathers what a run wrote into one self-contained HTML file.

The page shows, from a run directory (`kerasforge train`'s) or a repository after `dvc repro` (the same Layout):
the headline test metrics with the classical baseline's paired verdict, the training curves (DVCLive's), the
confusion matrix (or predicted against actual, for a regression), the most confident mistakes (and their images),
permutation importance for a table, the model's size and speed, and the config it was trained with. Images are
PNG drawn here or written by evaluate, embedded as data: URIs, so the file can be mailed or archived alone. No
TensorFlow: it reads files.

    kerasforge report outputs/2026-12-06/10-00-00 --html       # → outputs/…/report.html
    kerasforge report . --html --out reports --name digits      # a DVC repository → reports/digits.html
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError
from workflows.io.atomic import write_text
from workflows.io.layout import Layout
from workflows.reporting.report import _pyplot, run_curves
from workflows.reporting.show import baseline_line, headline, privacy_line

MISTAKE_ROWS = 20  # rows of mistakes.csv shown
CONFUSION_CLASSES = 30  # a confusion matrix larger than this is drawn without numbers in its cells

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 62em; margin: 2em auto; padding: 0 1em; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; margin: .5em 0 } td, th { padding: 2px 10px; border-bottom: 1px solid #eee;
text-align: left } th { background: #f6f6f6 } td.n { text-align: right; font-variant-numeric: tabular-nums }
img { max-width: 100%; height: auto } pre { background: #f6f6f6; padding: 1em; overflow: auto; font-size: 13px }
.verdict { padding: .6em 1em; background: #eef5ff; border-left: 4px solid #3a7bd5 }
.flags { padding: .6em 1em; background: #fff6e5; border-left: 4px solid #e0a000 }
"""
RISING = 0.5  # validation loss above its best for more than this share of the run: a flag
LOW_RECALL = 0.5  # a class whose recall is under this share of the best class's: a flag
GAP = 0.05  # an Integrated Gradients completeness gap above this (in probability) leaves the attributions unsure


def _png(fig) -> str:
    """A matplotlib figure as an <img> with a data: URI (closed afterwards)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return _img(buffer.getvalue(), "figure")


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_number(v)}</td>' if isinstance(v, (int, float)) else f"<td>{html.escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def metrics_section(metrics: dict[str, Any]) -> str:
    """The headline metrics and the baseline's verdict."""
    shown = {
        k: v for k, v in headline(metrics).items() if k not in ("params", "size_bytes", "latency_ms", "throughput")
    }
    parts = ["<h2>Test metrics</h2>", _table(["metric", "value"], [[k, v] for k, v in shown.items()])]
    for line in (baseline_line(metrics), privacy_line(metrics)):
        if line:
            parts.append(f'<p class="verdict">{html.escape(line)}</p>')
    cost = [[k, metrics[k]] for k in ("params", "size_bytes", "latency_ms", "throughput") if k in metrics]
    if cost:
        parts += ["<h3>Size and speed (the machine that evaluated)</h3>", _table(["", "value"], cost)]
    per_class = metrics.get("per_class")
    if isinstance(per_class, dict) and per_class:
        keys = ["precision", "recall", "f1-score", "support"]
        rows = [[name, *(v.get(k, "") for k in keys)] for name, v in per_class.items()]
        parts += ["<h3>Per class</h3>", _table(["class", *keys], rows)]
    return "\n".join(parts)


def curves_section(run_dir: Path) -> str:
    """The training curves, one panel per metric (train and validation together)."""
    curves = run_curves(run_dir)
    if not curves:
        return ""
    names = sorted({name.split("/", 1)[-1] for name in curves})
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], names):
        for split in ("train", "eval"):
            points = curves.get(f"{split}/{metric}")
            if points:
                ax.plot(*zip(*points), marker=".", label="validation" if split == "eval" else "training")
        ax.set_xlabel("epoch")
        ax.set_title(metric, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return "<h2>Training curves</h2>" + _png(fig)


def confusion_section(plots: Path) -> str:
    """The confusion matrix drawn from evaluate's (actual, predicted) rows, or a regression's scatter."""
    confusion = plots / "confusion.json"
    if confusion.is_file():
        pairs = json.loads(confusion.read_text())
        classes = sorted({p["actual"] for p in pairs} | {p["predicted"] for p in pairs})
        index = {c: i for i, c in enumerate(classes)}
        import numpy as np

        matrix = np.zeros((len(classes), len(classes)), int)
        for p in pairs:
            matrix[index[p["actual"]], index[p["predicted"]]] += 1
        plt = _pyplot()
        size = min(2 + 0.45 * len(classes), 14)
        fig, ax = plt.subplots(figsize=(size, size))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        if len(classes) <= CONFUSION_CLASSES:
            for (i, j), count in np.ndenumerate(matrix):
                color = "white" if count > matrix.max() / 2 else "black"
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color=color)
        fig.tight_layout()
        return "<h2>Confusion matrix (test split)</h2>" + _png(fig)
    predictions = plots / "predictions.json"
    if predictions.is_file():
        points = json.loads(predictions.read_text())
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        actual, guess = [p["actual"] for p in points], [p["predicted"] for p in points]
        ax.scatter(actual, guess, s=8, alpha=0.6)
        low, high = min(actual + guess), max(actual + guess)
        ax.plot([low, high], [low, high], color="gray", linewidth=1)
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
        fig.tight_layout()
        return "<h2>Predicted against actual (test split)</h2>" + _png(fig)
    return ""


def _csv_rows(path: Path, limit: int) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        return header, [row for _, row in zip(range(limit), reader)]


def insight_section(plots: Path) -> str:
    """The mistakes (table and image grid) and a table's permutation importance, as evaluate wrote them."""
    parts = []
    if (plots / "mistakes.csv").is_file():
        header, rows = _csv_rows(plots / "mistakes.csv", MISTAKE_ROWS)
        parts += [f"<h2>Mistakes (the {len(rows)} worst of the test split)</h2>", _table(header, rows)]
    if (plots / "mistakes.png").is_file():
        parts.append(_img((plots / "mistakes.png").read_bytes(), "most confident mistakes"))
    if (plots / "importance.csv").is_file():
        parts.append("<h2>Permutation importance (test rows)</h2>")
        if (plots / "importance.png").is_file():
            parts.append(_img((plots / "importance.png").read_bytes(), "permutation importance"))
        header, rows = _csv_rows(plots / "importance.csv", 100)
        parts.append(_table(header, rows))
    return "\n".join(parts)


def config_section(root: Path) -> str:
    """The config the run was trained with: a run directory's config.yaml, or a repository's params.yaml."""
    for name in ("config.yaml", "params.yaml"):
        if (root / name).is_file():
            return f"<h2>Config ({name})</h2><pre>{html.escape((root / name).read_text())}</pre>"
    return ""


def _read_json(path: Path, fix: str) -> Any:
    """A JSON file the run wrote, or one line naming it and the fix (truncated, not JSON)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is not readable JSON ({type(err).__name__}: truncated?); {fix}") from None


def _config(root: Path) -> dict[str, Any]:
    """The run's config (config.yaml of a run directory, params.yaml of a repository), {} when absent or unreadable."""
    import yaml

    for name in ("config.yaml", "params.yaml"):
        try:
            found = yaml.safe_load((root / name).read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(found, dict):
            return found
    return {}


def page_title(root: Path) -> str:
    """What the run is: the target and the data it was learned from, the model, and the run's folder — e.g.
    "species from penguins.csv — model mlp (run 10-00-00)"."""
    cfg = _config(root)
    data, model = cfg.get("data") or {}, cfg.get("model") or {}
    source = data.get("path") or data.get("directory") or data.get("name") or "data"
    what = f"{data['target']} from {Path(str(source)).name}" if data.get("target") else str(Path(str(source)).name)
    return f"{what} — model {model.get('name', '?')} (run {Path(root).resolve().name})"


def flags(
    metrics: dict[str, Any], curves: dict[str, list[tuple[float, float]]], explanations: list[Path] | None = None
) -> list[str]:
    """What a reader should know before the figures: validation loss rising for most of the run (the saved model is
    the last epoch's), a class the model mostly misses, explanations whose completeness gap is large, the baseline
    ahead."""
    out = []
    loss = curves.get("eval/loss") or []
    if len(loss) >= 4:
        best = min(range(len(loss)), key=lambda i: loss[i][1])
        after = len(loss) - 1 - best
        if after > RISING * len(loss) and loss[-1][1] > loss[best][1]:
            out.append(
                f"Validation loss rose for {after} of {len(loss)} epochs after its best (epoch {loss[best][0]:g}: "
                f"{loss[best][1]:.4g}, last {loss[-1][1]:.4g}); the saved model is the last epoch's. Consider fewer "
                "epochs, more regularization, or early stopping (regularizer.early_stopping.patience)."
            )
    per_class = metrics.get("per_class") or {}
    recalls = {name: v.get("recall") for name, v in per_class.items() if isinstance(v, dict) and v.get("support")}
    if len(recalls) >= 2:
        top = max(recalls.values())
        low = {name: r for name, r in recalls.items() if r < LOW_RECALL * top}
        base = (metrics.get("baseline") or {}).get("per_class_recall") or {}
        for name, recall in low.items():
            beside = f"; the baseline's: {base[name]:.3g}" if name in base else ""
            out.append(
                f"Class '{name}' has recall {recall:.3g} (the best class: {top:.3g}){beside}: the model misses most of "
                "it. trainer.class_weight=balanced weighs the classes equally."
            )
    for line in explanation_flags(explanations or []):
        out.append(line)
    base = metrics.get("baseline") or {}
    if base.get("verdict") == "worse":
        out.append(f"The classical baseline ({base.get('model')}) is better on the same test rows (see below).")
    return out


def explanation_flags(files: list[Path]) -> list[str]:
    """`kerasforge explain`'s explanations.csv files written inside the run: inputs whose Integrated Gradients
    completeness gap (|Σ attributions − (f(x) − f(baseline))|) is above GAP, where the heatmaps are not to be trusted
    as they are (more `--steps`)."""
    out = []
    for file in files:
        header, rows = _csv_rows(file, 100_000)
        if "completeness_gap" not in header:
            continue
        at = header.index("completeness_gap")
        gaps = [float(r[at]) for r in rows if len(r) > at and r[at] not in ("", "nan")]
        wide = [g for g in gaps if g > GAP]
        if wide:
            out.append(
                f"{len(wide)} of {len(gaps)} explanations in {file.parent.name}/ have a completeness gap above {GAP} "
                f"(largest {max(wide):.3g}): their attributions do not add up to the prediction; rerun explain with "
                "more --steps"
            )
    return out


def flags_section(
    metrics: dict[str, Any], curves: dict[str, list[tuple[float, float]]], explanations: list[Path] | None = None
) -> str:
    found = flags(metrics, curves, explanations)
    if not found:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in found)
    return f'<div class="flags"><strong>What to know</strong><ul>{items}</ul></div>'


def page(run_dir: Path) -> str:
    """The run's page as one HTML document.

    Args:
        run_dir: a run directory (`kerasforge train`'s) or a repository after `dvc repro`.

    Returns:
        The HTML text, images embedded.

    Raises:
        ConfigError: the folder holds no evaluated run (no eval/metrics.json).

    Example:
    >>> Path("report.html").write_text(page(Path("outputs/2026-12-06/10-00-00")))
    """
    layout = Layout(Path(run_dir))
    metrics_file = layout.eval / "metrics.json"
    if not metrics_file.is_file():
        raise ConfigError(
            f"{run_dir} holds no evaluated run ({metrics_file} is missing); give a run directory of `kerasforge "
            "train` or a repository after `dvc repro`"
        )
    metrics = _read_json(metrics_file, "rerun the evaluate stage (dvc repro -f evaluate)")
    title = page_title(layout.root)
    sections = [
        flags_section(metrics, run_curves(layout.root), sorted(layout.root.rglob("explanations.csv"))),
        metrics_section(metrics),
        curves_section(layout.root),
        confusion_section(layout.eval / "plots"),
        insight_section(layout.eval / "plots"),
        config_section(layout.root),
    ]
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(s for s in sections if s)
        + "\n</body></html>\n"
    )


def write(run_dir: Path, out: Path) -> Path:
    """Writes the run's page to `out` atomically; returns `out`."""
    text = page(run_dir)
    write_text(out, text)
    return out
