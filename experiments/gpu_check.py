"""Every GPU check in one command (issue 17): parity, the GPU benchmark columns, a GPU training run.

    python experiments/gpu_check.py            # on a machine with CUDA: ~5 minutes
    python experiments/gpu_check.py --quick    # smaller benchmarks, results to a temp folder
    python experiments/gpu_check.py --parts parity allpole loss   # some of it (then the rest)

On a machine without network, ``experiments/gpu_kit.py`` installs what it needs first.

On a machine without CUDA it says so and exits 0 having run nothing. With CUDA it runs, in
order, and writes ``gpu_check.md`` / ``.json`` (to ``experiments/results``, or with ``--quick``
to ``$DDSP_RESULTS_DIR`` or a temporary folder):

1. parity: ``tests/test_devices.py`` (every front-end, loss, filter and synthesiser, float32 on
   CUDA against float64 on the CPU, forward and gradient), the spectral modules' CUDA test and
   the float16-autocast test (``tests/test_autocast.py``);
2. the nnAudio table's GPU columns: ``experiments/spectral_speed.py --device cuda`` (STFT / mel
   / MFCC / CQT on the 1,770 clips, nnAudio and torch.stft beside ours);
3. the all-pole filter, forward + backward, 16 x 64,000, order 20: ours against torchlpc's CUDA
   kernel (and their outputs and gradients compared); ours chunk-parallel (the default on CUDA,
   chunks of 32 ... 512 samples) against ours sequential (``DDSP_ALLPOLE_CHUNK=0``);
4. the MR-STFT loss, forward + backward, 16 x 64,000, per preset, against auraloss;
5. ``python train.py experiment=lpc_vocoder trainer=gpu`` for 200 steps (wall time, final
   validation MSS).

Exit status: 1 if any parity check failed (steps 1, 3, 4) or the training run failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))


def run(cmd: list[str], timeout: int) -> tuple[int, str, float]:
    """``(returncode, last lines of output, seconds)`` of a subprocess in the checkout."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = 124, f"timed out after {timeout} s\n{e.stdout or ''}"
    tail = "\n".join(str(out).strip().splitlines()[-15:])
    return rc, tail, time.perf_counter() - t0


def device_time(fn, device: str, repeats: int = 10) -> float:
    """Median seconds of ``fn()``, the device synchronised around it (after 2 warm-up calls,
    1 when ``repeats`` is 1: a run that only exercises the code)."""

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(min(2, repeats)):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def allpole_check(
    quick: bool,
    device: str = "cuda",
    repeats: int = 10,
    chunks: tuple[int, ...] = (0, 32, 64, 128, 256, 512),
) -> dict:
    import torchlpc

    from ddsp.filters import allpole
    from ddsp.filters.interpolate import interpolate_lpc
    from ddsp.filters.lpc import logits_to_reflection

    b, t, order = (4, 16000, 20) if quick else (16, 64000, 20)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, t, generator=g).to(device)
    k = logits_to_reflection(
        0.3 * torch.randn(b, t // 160, order, generator=g, dtype=torch.float64)
    )
    a = interpolate_lpc(k, 160, "reflection").float().to(device)

    def step(fn):
        xx, aa = x.clone().requires_grad_(), a.clone().requires_grad_()
        y = fn(xx, aa)
        y.square().sum().backward()
        return y.detach(), xx.grad, aa.grad

    def with_chunk(chunk: int | None, fn):
        """``fn()`` with ``DDSP_ALLPOLE_CHUNK`` set to ``chunk`` (None: the default policy)."""
        old = os.environ.pop("DDSP_ALLPOLE_CHUNK", None)
        if chunk is not None:
            os.environ["DDSP_ALLPOLE_CHUNK"] = str(chunk)
        try:
            return fn()
        finally:
            os.environ.pop("DDSP_ALLPOLE_CHUNK", None)
            if old is not None:
                os.environ["DDSP_ALLPOLE_CHUNK"] = old

    ours = step(lambda xx, aa: allpole(xx, aa))
    theirs = step(lambda xx, aa: torchlpc.sample_wise_lpc(xx, aa))
    errors = [float((o - r).abs().max() / r.abs().max()) for o, r in zip(ours, theirs, strict=True)]
    t_ours = device_time(lambda: step(lambda xx, aa: allpole(xx, aa)), device, repeats)
    t_theirs = device_time(
        lambda: step(lambda xx, aa: torchlpc.sample_wise_lpc(xx, aa)), device, repeats
    )

    def timed() -> float:
        return device_time(lambda: step(lambda xx, aa: allpole(xx, aa)), device, repeats)

    by_chunk = {c: 1000 * with_chunk(c, timed) for c in chunks}  # 0: sequential kernel; ms
    return {
        "shape": [b, t, order],
        "ours_ms": 1000 * t_ours,
        "torchlpc_ms": 1000 * t_theirs,
        "ours_ms_by_chunk": by_chunk,
        "rel_error_y_dx_da": errors,
        "parity": max(errors) <= 1e-3,
    }


def loss_check(quick: bool, device: str = "cuda", repeats: int = 10) -> dict:
    import auraloss

    from ddsp.losses import MultiResolutionSTFTLoss

    b, t = (4, 16000) if quick else (16, 64000)
    g = torch.Generator().manual_seed(1)
    x, y = (torch.rand(b, 1, t, generator=g).to(device) * 2 - 1 for _ in range(2))
    out = {}

    def fwd_bwd(loss):
        xx = x.clone().requires_grad_()
        loss(xx, y).backward()

    for preset in ("auraloss", "ddsp", "golf"):
        ours = MultiResolutionSTFTLoss(preset=preset).to(device)
        ms = 1000 * device_time(lambda ours=ours: fwd_bwd(ours), device, repeats)
        out[preset] = {"ours_ms": ms}
    theirs = auraloss.freq.MultiResolutionSTFTLoss().to(device)
    out["auraloss 0.4"] = {"ms": 1000 * device_time(lambda: fwd_bwd(theirs), device, repeats)}
    exact = MultiResolutionSTFTLoss(preset="auraloss", floor_db=None, smooth_l1=0.0).to(device)
    rel = abs(float(exact(x, y)) - float(theirs(x, y))) / abs(float(theirs(x, y)))
    out["auraloss_formula_rel_error"] = rel
    out["parity"] = rel <= 1e-4
    return out


PARTS = ("parity", "spectral", "allpole", "loss", "training")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="run only these (e.g. in two calls that each fit a device command's time limit); "
        "results go to gpu_check_<parts>.md unless all run",
    )
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device on this machine (torch.cuda.is_available() is False); nothing run"
        )
        return 0
    from _results import write_results

    py = sys.executable
    parts = [p for p in PARTS if p in a.parts]
    results: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    failed: list[str] = []
    lines: list[str] = []
    if "parity" in parts:
        rc, tail, secs = run(
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_devices.py",
             "tests/test_spectral_modules.py::test_cuda_matches_cpu",
             "tests/test_autocast.py::test_cuda_autocast_changes_nothing"],
            timeout=240,
        )  # fmt: skip
        r = results["parity_tests"] = {
            "returncode": rc,
            "seconds": secs,
            "summary": tail.splitlines()[-1:],
        }
        failed += ["parity tests"] if rc else []
        lines.append(
            f"- parity tests (float32 CUDA vs float64 CPU): rc {rc}, {' '.join(r['summary'])}"
        )
    if "spectral" in parts:
        speed = [py, "experiments/spectral_speed.py", "--device", "cuda"]
        rc, tail, secs = run(speed + (["--quick"] if a.quick else []), timeout=300)
        results["spectral_speed"] = {"returncode": rc, "seconds": secs, "tail": tail}
        lines.append(f"- spectral speed (`spectral_speed_cuda.md`): rc {rc}")
    if "allpole" in parts:
        ap_ = results["allpole"] = allpole_check(a.quick)
        failed += [] if ap_["parity"] else ["all-pole parity"]
        lines.append(
            f"- all-pole {ap_['shape']}, forward + backward: ours {ap_['ours_ms']:.1f} ms, torchlpc "
            f"{ap_['torchlpc_ms']:.1f} ms; max relative differences (y, dx, da) "
            f"{', '.join(f'{e:.1e}' for e in ap_['rel_error_y_dx_da'])}; ours by chunk length "
            "(0: sequential kernel): "
            + ", ".join(f"{k}: {v:.1f} ms" for k, v in ap_["ours_ms_by_chunk"].items())
        )
    if "loss" in parts:
        loss = results["loss"] = loss_check(a.quick)
        failed += [] if loss["parity"] else ["loss parity"]
        lines.append(
            "- MR-STFT loss, forward + backward: "
            + ", ".join(f"{k} {v['ours_ms']:.1f} ms" for k, v in loss.items() if "ours_ms" in v)
            + f"; auraloss {loss['auraloss 0.4']['ms']:.1f} ms; auraloss's formula "
            f"relative difference {loss['auraloss_formula_rel_error']:.1e}"
        )
    if "training" in parts:
        logs = tempfile.mkdtemp(prefix="ddsp-gpu-check-")
        steps = 50 if a.quick else 200
        rc, tail, secs = run(
            [py, "train.py", "experiment=lpc_vocoder", "trainer=gpu", f"trainer.max_steps={steps}",
             f"trainer.val_check_interval={steps}", "logger=csv", f"paths.log_dir={logs}"],
            timeout=420,
        )  # fmt: skip
        results["training"] = {"returncode": rc, "steps": steps, "seconds": secs, "tail": tail}
        failed += ["training run"] if rc else []
        lines.append(f"- training, {steps} steps on the GPU: rc {rc}, {secs:.0f} s")
    results["failed"] = failed
    every = parts == list(PARTS)
    command = "python experiments/gpu_check.py" + (" --quick" if a.quick else "")
    command += "" if every else " --parts " + " ".join(parts)
    md = "\n".join(
        [
            f"# GPU check: {results['device']}",
            "",
            f"torch {torch.__version__}. Command: `{command}`. Failed: {', '.join(failed) or 'nothing'}.",
            "",
            *lines,
            "",
        ]
    )
    name = "gpu_check" if every else "gpu_check_" + "_".join(parts)
    write_results(name, md, json.loads(json.dumps(results, default=str)), a.quick)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
