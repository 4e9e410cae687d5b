"""experiments/gpu_check.py: on a CPU-only machine it runs nothing and exits 0; its in-process
checks run here on the CPU, so their code is exercised before the day a GPU runs them."""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))

import gpu_check  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the real thing")
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert gpu_check.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_allpole_and_loss_checks_run_on_the_cpu():
    allpole = gpu_check.allpole_check(quick=True, device="cpu", repeats=1, chunks=(0, 64))
    assert allpole["parity"] and allpole["ours_ms"] > 0 and allpole["torchlpc_ms"] > 0
    assert set(allpole["ours_ms_by_chunk"]) == {0, 64}  # sequential and chunk-parallel
    loss = gpu_check.loss_check(quick=True, device="cpu", repeats=1)
    assert loss["parity"] and all(loss[p]["ours_ms"] > 0 for p in ("auraloss", "ddsp", "golf"))
