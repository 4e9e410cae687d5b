"""What the input checks on the hot paths cost, beside the work they guard (issue 17.5: at most
about 5 % of it).

    python experiments/check_cost.py          # 1 thread, median of 21
    python experiments/check_cost.py --quick  # median of 7; never touches experiments/results

Each row times the checks a call makes (the same functions the call runs, on the same inputs)
and the call itself, alternating, on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import machine, write_results  # noqa: E402

from ddsp.dsp import values_within  # noqa: E402
from ddsp.filters import allpole  # noqa: E402
from ddsp.filters.allpole import _check_dtype, _check_output  # noqa: E402
from ddsp.filters.interpolate import interpolate_lpc  # noqa: E402
from ddsp.filters.lpc import logits_to_reflection  # noqa: E402
from ddsp.losses import MultiResolutionSTFTLoss  # noqa: E402
from ddsp.losses.stft import check_pair  # noqa: E402
from ddsp.spectral import MelSpectrogram, _checks  # noqa: E402
from ddsp.synth import GlottalFlowLPC  # noqa: E402
from ddsp.synth.core import check_controls  # noqa: E402
from ddsp.synth.glottal import _check_oscillator  # noqa: E402
from ddsp.synth.noise import noise_magnitudes  # noqa: E402


def cases() -> dict[str, tuple]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 64000, generator=g)
    k = logits_to_reflection(0.3 * torch.randn(16, 400, 20, generator=g, dtype=torch.float64))
    a = interpolate_lpc(k, 160, "reflection").float()
    y = allpole(x, a)
    target = torch.roll(x, 7, -1).unsqueeze(1)
    loss = MultiResolutionSTFTLoss(preset="ddsp")
    mel = MelSpectrogram(16000, 1024, 256, n_mels=80)
    synth = GlottalFlowLPC(16000, 160)
    f0 = 100 + 50 * torch.rand(1, 600, generator=g)
    controls = {k: torch.randn(1, 600, n, generator=g) for k, n in synth.control_sizes.items()}
    magnitudes = noise_magnitudes(controls["noise"])  # the noise branch's own check's input
    big = torch.finfo(magnitudes.dtype).max

    position = torch.sigmoid(controls["source"][..., 0])

    def golf_checks():
        check_controls(controls, synth.control_sizes, f0)
        _check_oscillator(f0, position, synth.tables, 16000, 160, synth.oversample)
        values_within(magnitudes, "magnitudes", 0.0, big)  # the impulse responses' builder

    def loss_step():
        xx = x.unsqueeze(1).clone().requires_grad_()
        loss(xx, target).backward()

    return {
        "allpole, 16 x 64,000, order 20 (forward)": (
            lambda: allpole(x, a),
            lambda: (
                _check_dtype("x", x),
                _check_dtype("a", a),
                _check_output(y, x, a, None, False),
            ),
        ),
        "MR-STFT loss (ddsp preset), 16 x 64,000 (forward + backward)": (
            loss_step,
            lambda: check_pair(x.unsqueeze(1), target, 2048),
        ),
        # float32 on the CPU: the kernels flag non-finite outputs as they write them (inside
        # the call, not separable); the input is searched only then. Up front: dtype and shape
        "mel spectrogram, 16 x 64,000": (lambda: mel(x), lambda: _checks.signal(x, finite=False)),
        "GOLF decoder, 6 s": (lambda: synth(f0, controls), golf_checks),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    repeats = 7 if a.quick else 21
    torch.set_num_threads(1)
    rows, data = [], {}
    for name, (work, checks) in cases().items():
        work(), checks()  # warm-up
        tw, tc = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            work()
            tw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            checks()
            tc.append(time.perf_counter() - t0)
        w, c = statistics.median(tw), statistics.median(tc)
        data[name] = {"call_ms": 1000 * w, "checks_ms": 1000 * c}
        rows.append(f"| {name} | {1000 * w:.1f} | {1000 * c:.3f} | {100 * c / w:.2f} % |")
    md = "\n".join(
        [
            "# Cost of the input checks on the hot paths",
            "",
            f"One thread, median of {repeats} alternating runs; {machine()}. The "
            "check column times exactly the check functions the call runs (an all-pole call "
            "checks dtypes and reduces its output once; a multi-resolution loss checks the pair "
            "once (one peak reduction per signal); a front-end checks the dtype, and its C++ kernels flag a non-finite output while writing it, the input being searched only then (the flag's few vector operations are inside the call's time; without the kernels, or with gradients, it sums its output once); a synthesiser the control shapes and sums f0 and each control once, and reads the lowest f0; GOLF's oscillator its settings and sums the table position once, its noise branch its magnitudes (a minimum and a sum)). "
            f"Command: `python experiments/check_cost.py{' --quick' if a.quick else ''}`.",
            "",
            "| call | call ms | checks ms | checks / call |",
            "|---|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    write_results("check_cost", md, data, a.quick)


if __name__ == "__main__":
    main()
