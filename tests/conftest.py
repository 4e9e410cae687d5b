from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "fillets_cs"
os.environ.setdefault("DDSP_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# hypothesis keeps nothing in the repository (.hypothesis/: its example database and the
# constants it collects from the source go to a temporary folder)
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="ddsp-hypothesis-"))
settings.register_profile("ddsp", database=None)
settings.load_profile("ddsp")


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    """A real recording from the shipped data: (samples float64, 22050)."""
    x, sr = sf.read(str(sorted(DATA.glob("*.ogg"))[0]), dtype="float64")
    return x, sr


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# What the suite may leave in the repository: the environment (made by `make`) and, when run
# outside `make test` (which turns them off), Python's and pytest's caches.
ALLOWED = (".venv/", ".pytest_cache/")


def repository_state() -> list[str] | None:
    """``git status`` of the repository, ignored files included (None outside a git checkout):
    a test at the end of the suite checks that no test created or changed a file here."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    state = []
    for line in out.splitlines():
        path = line[3:]
        if path.startswith(ALLOWED) or "__pycache__/" in path or ".egg-info/" in path:
            continue
        full = ROOT / path
        stamp = full.stat().st_mtime_ns if full.is_file() else ""  # a changed file, changed again
        state.append(f"{line} {stamp}")
    return sorted(state)


STATE_AT_START = repository_state()


def praat_formants(x: torch.Tensor, sample_rate: int, hop_length: int) -> torch.Tensor:
    """Praat's "To Formant (burg)" (5 formants below 5.5 kHz, 25 ms, pre-emphasis from 50 Hz)
    sampled on our frame grid: ``(time,)`` -> ``(time // hop + 1, 3)`` Hz, NaN where none."""
    parselmouth = pytest.importorskip("parselmouth")
    snd = parselmouth.Sound(x.double().numpy(), sample_rate)
    fm = snd.to_formant_burg(hop_length / sample_rate, 5, 5500.0, 0.025, 50.0)
    times = [i * hop_length / sample_rate for i in range(len(x) // hop_length + 1)]
    return torch.tensor(
        [[fm.get_value_at_time(k + 1, t) for k in range(3)] for t in times], dtype=torch.float64
    )
