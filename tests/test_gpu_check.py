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


def test_parts_compose_one_results_file(monkeypatch, tmp_path):
    """The report a GPU run writes, its CUDA work replaced by stubs: the day a GPU is lent, a
    formatting slip must not cost device time."""
    monkeypatch.setenv("DDSP_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "stub GPU")
    monkeypatch.setattr(gpu_check, "run", lambda cmd, timeout: (0, "3 passed in 1.0s", 1.0))
    allpole = {
        "shape": [4, 16000, 20],
        "ours_ms": 1.0,
        "torchlpc_ms": 2.0,
        "ours_ms_by_chunk": {0: 3.0, 64: 1.0},
        "rel_error_y_dx_da": [1e-7, 1e-6, 1e-6],
        "parity": True,
    }
    monkeypatch.setattr(gpu_check, "allpole_check", lambda quick: allpole)
    assert gpu_check.main(["--quick", "--parts", "allpole", "parity"]) == 0
    md = (tmp_path / "gpu_check_parity_allpole.md").read_text()
    assert "Failed: nothing" in md and "--parts parity allpole" in md
    assert "rc 0, 3 passed" in md and "0: 3.0 ms, 64: 1.0 ms" in md
    allpole["parity"] = False
    assert gpu_check.main(["--quick", "--parts", "allpole"]) == 1
    assert "Failed: all-pole parity" in (tmp_path / "gpu_check_allpole.md").read_text()


def test_gpu_kit_says_what_is_missing(tmp_path):
    import gpu_kit

    with pytest.raises(
        SystemExit, match="no kit in .*: run `python experiments/gpu_kit.py download`"
    ):
        gpu_kit.main(["install", "--kit", str(tmp_path / "kit"), "--site", str(tmp_path / "site")])
    with pytest.raises(SystemExit, match="not-a-package is not installed here"):
        gpu_kit.pinned("not-a-package")
    assert gpu_kit.pinned("torch") == f"torch=={torch.__version__}"
