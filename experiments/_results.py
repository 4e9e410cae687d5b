"""Shared by the benchmark scripts: print a results table and write it with its raw data."""

from __future__ import annotations

import json
import os
import platform
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
        print(f"(written to {out}, not experiments/results)")
    return out


def machine() -> str:
    """The CPU as the results should name it: model, logical cores, the vector instruction set
    torch's kernels use here (``AVX2``, ``AVX512``, ...) and torch's version. CPUs of one model
    name can differ in vector units (FFT and elementwise speeds then differ by 1.5-2x), so the
    capability is printed, not assumed."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    isa = torch.backends.cpu.get_cpu_capability()
    return f"{model}, {os.cpu_count()} logical cores, torch {torch.__version__} ({isa} kernels)"
