from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "fillets_cs"
os.environ.setdefault("DDSP_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    """A real recording from the shipped data: (samples float64, 22050)."""
    x, sr = sf.read(str(sorted(DATA.glob("*.ogg"))[0]), dtype="float64")
    return x, sr


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
