"""Stage 1, prepare: the data plugin's train/val/test split, written to disk.

`kerasforge stage prepare --params params.yaml` writes data/prepared/
({train,val,test}/ in the byte-reproducible format of workflows/io/datastore.py,
and spec.json), atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from plugins.data.base import Splits
from workflows.config.experiment import Experiment
from workflows.io.datastore import SKIPPED, save_splits
from workflows.io.layout import REPO, Layout


def prepare(experiment: Experiment) -> Splits:
    """Loads and splits the configured data set.

    Args:
        experiment: the resolved config.

    Returns:
        The data plugin's Splits.
    """
    return experiment.load_data()


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> None:
    """The prepare stage: the data plugin's splits → data/prepared/ (below `layout.root`)."""
    splits = prepare(experiment)
    save_splits(splits, layout.prepared)
    if splits.skipped:
        first = ", ".join(splits.skipped[:3]) + (
            f" and {len(splits.skipped) - 3} more" if len(splits.skipped) > 3 else ""
        )
        print(
            f"warning: skipped {len(splits.skipped)} unreadable file(s): {first}; the full list: "
            f"{layout.prepared / SKIPPED}",
            file=sys.stderr,
        )
