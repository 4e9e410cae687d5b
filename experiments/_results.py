"""Shared by the benchmark scripts: print a results table and write it with its raw data."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def results_dir(quick: bool = False) -> Path:
    """``experiments/results`` for a full run. A ``--quick`` run never touches the committed
    results: it writes to ``$DDSP_RESULTS_DIR`` or a temporary folder (printed)."""
    if not quick:
        RESULTS.mkdir(exist_ok=True)
        return RESULTS
    out = Path(os.environ.get("DDSP_RESULTS_DIR") or Path(tempfile.gettempdir()) / "ddsp-quick")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_results(name: str, markdown: str, data: object, quick: bool = False) -> Path:
    """Print ``markdown`` and write ``<name>.md`` and ``<name>.json`` to :func:`results_dir`."""
    print(markdown)
    out = results_dir(quick)
    (out / f"{name}.md").write_text(markdown)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1))
    if quick:
        print(f"(--quick: written to {out}, not experiments/results)")
    return out
