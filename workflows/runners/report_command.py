"""`kerasforge report SOURCE | --dvc REPO [--confirm K]`: collect runs into a report (workflows/reporting/report.py).

With `--confirm K`, a search's K best trials are trained again over seeds first (workflows/runners/confirm.py):
that is a runner's work, so the command lives here, above the reporting floor it uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from plugins.registry import ConfigError
from workflows.io.console import run_cli
from workflows.reporting import report


def main(argv: list[str] | None = None) -> int:
    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(
            prog="kerasforge report", description=report.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("source", nargs="?", help="a Hydra multirun directory")
        parser.add_argument("--dvc", metavar="REPO", help="collect the DVC experiments of this repository instead")
        parser.add_argument(
            "--html",
            action="store_true",
            help="one run's page: SOURCE is a run directory (or a repository after dvc repro); one self-contained "
            "HTML file, SOURCE/report.html unless --out or --name is given",
        )
        parser.add_argument("--name", default=None, help="the report's file name (default: report)")
        parser.add_argument("--out", default=None, help="where to write (default: reports)")
        parser.add_argument(
            "--confirm",
            type=int,
            metavar="K",
            help="a workflows.search directory: rerun its K best trials and the baseline over --seeds "
            "seeds, with McNemar's test (workflows/runners/confirm.py)",
        )
        parser.add_argument("--seeds", type=int, default=3, help="with --confirm: training seeds per config (3)")
        ns = parser.parse_args(args)
        if ns.html:
            if not ns.source or not Path(ns.source).is_dir():
                raise ConfigError("--html needs a run directory, e.g. kerasforge report outputs/<date>/<time> --html")
            from workflows.reporting.page import write

            folder = Path(ns.out) if ns.out else Path(ns.source)
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"--out {folder} is a file; give a folder to write the page into (or leave it out)")
            written = write(Path(ns.source), folder / f"{ns.name or 'report'}.html")
            print(f"wrote {written}")
            return
        ns.name, ns.out = ns.name or "report", ns.out or "reports"
        if ns.confirm is not None:
            if not ns.source or not Path(ns.source).is_dir():
                raise ConfigError("--confirm needs a workflows.search directory, e.g. multirun/search/kerasforge")
            from workflows.runners.confirm import confirm

            print(confirm(Path(ns.source), ns.confirm, list(range(ns.seeds)), ns.name, Path(ns.out)))
            return
        if bool(ns.source) == bool(ns.dvc):
            raise ConfigError("give a multirun directory or --dvc REPO (one of them)")
        if ns.dvc:
            runs, origin = report.from_dvc(Path(ns.dvc)), f"the DVC experiments of `{ns.dvc}`"
        else:
            if not Path(ns.source).is_dir():
                raise ConfigError(
                    f"{ns.source} is not a directory; give a multirun directory, e.g. multirun/<date>/<time>"
                )
            runs, origin = report.from_multirun(Path(ns.source)), f"the multirun directory `{ns.source}`"
        command = "kerasforge report " + " ".join(args)
        intro = [
            f"Collected from {origin} by `{command}`: {len(runs)} runs; mean ± sample std over each variant's seeds."
        ]
        front = (
            report.pareto_from_results(Path(ns.source), Path(ns.out) / f"{ns.name}_pareto.png") if ns.source else None
        )
        if front is not None:
            intro.append(f"Pareto front (trials {', '.join(map(str, front))}): ![Pareto front]({ns.name}_pareto.png)")
        print(report.write(ns.name, ns.name, report.group(runs), Path(ns.out), intro))

    return run_cli(task, argv)
