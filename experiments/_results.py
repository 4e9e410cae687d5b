"""Shared by the benchmark scripts: print a results table and write it with its raw data."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, markdown: str, data: object) -> None:
    """Print ``markdown`` and write ``results/<name>.md`` and ``results/<name>.json``."""
    print(markdown)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1))
