"""System identification of a time-varying all-pole filter from audio alone (DiffAPF, Tables 2-3).

    python experiments/system_identification.py            # 400 steps per method (~3 min)
    python experiments/system_identification.py --quick    # 100 steps

Ground truth, built here with known parameters: a TB-303-like resonant two-pole low-pass whose
cutoff is swept by a sinusoidal LFO, fc(t) = fc0 exp(depth sin(2 pi rate t + phase)), pole radius
r, driving a 110 Hz band-limited sawtooth plus a little noise (1 s at 16 kHz). The model has the
same form with five unknown parameters started away from the truth. Each method fits them by
Adam on the multi-resolution STFT loss between its output and the target; the methods differ only
in how the filter (and so the gradient) is computed while training:
  TD       the exact time-domain filter with our fused gradient (ddsp.filters.allpole)
  FS n     DiffAPF's frequency-sampling approximation with STFT size n (128 ... 4096)
Every fitted model is then run through the exact filter and scored against the target: ESR
(error-to-signal ratio) and MSS (the same multi-resolution STFT loss), as DiffAPF reports, plus
the error of the recovered cutoff trajectory. Same seed and initialisation for all. Writes
experiments/results/system_identification.md, .json and a figure of true vs recovered cutoffs.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _results import results_dir, write_results

from ddsp.filters import allpole, allpole_frequency_sampling
from ddsp.losses import MultiResolutionSTFTLoss

SR, DUR = 16000, 1.0
TRUE = {"log_fc0": math.log(800.0), "depth": 1.0, "rate": 2.0, "phase": 0.5, "radius_logit": 3.0}
INIT = {"log_fc0": math.log(500.0), "depth": 0.5, "rate": 2.3, "phase": 0.0, "radius_logit": 2.0}


def coefficients(p: dict[str, torch.Tensor], t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample biquad ``(1, T, 2)`` and the cutoff trajectory in Hz ``(T,)``."""
    fc = torch.exp(p["log_fc0"] + p["depth"] * torch.sin(2 * math.pi * p["rate"] * t + p["phase"]))
    omega = 2 * math.pi * fc.clamp(20.0, 0.45 * SR) / SR
    r = 0.999 * torch.sigmoid(p["radius_logit"])
    a = torch.stack([-2 * r * torch.cos(omega), (r * r).expand_as(omega)], -1)
    return a[None], fc


def source(gen: torch.Generator) -> torch.Tensor:
    t = torch.arange(int(SR * DUR)) / SR
    saw = sum((-1) ** (k + 1) * torch.sin(2 * math.pi * 110 * k * t) / k for k in range(1, 70))
    return (0.5 * saw + 0.01 * torch.randn(len(t), generator=gen))[None]


def fit(method: str, x: torch.Tensor, target: torch.Tensor, steps: int) -> dict:
    t = torch.arange(x.shape[-1]) / SR
    params = {k: torch.tensor(v, requires_grad=True) for k, v in INIT.items()}
    opt = torch.optim.Adam(params.values(), lr=2e-2)
    loss_fn = MultiResolutionSTFTLoss()
    t0 = time.perf_counter()
    for _ in range(steps):
        a, _ = coefficients(params, t)
        if method == "TD":
            y = allpole(x, a)
        else:
            y = allpole_frequency_sampling(x, a, int(method.split()[1]))
        loss = loss_fn(y, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():  # score every model with the exact filter
        a, fc = coefficients(params, t)
        y = allpole(x, a)
        esr = ((y - target).square().sum() / target.square().sum()).item()
        mss = loss_fn(y, target).item()
        _, fc_true = coefficients({k: torch.tensor(v) for k, v in TRUE.items()}, t)
        fc_err = (1200 * torch.log2(fc / fc_true)).abs().mean().item()
    return {
        "method": method,
        "esr": esr,
        "mss": mss,
        "cutoff_error_cents": fc_err,
        "seconds": seconds,
        "params": {k: v.item() for k, v in params.items()},
        "fc": fc,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    a = ap.parse_args()
    steps = a.steps or (100 if a.quick else 400)
    torch.manual_seed(0)
    x = source(torch.Generator().manual_seed(0))
    t = torch.arange(x.shape[-1]) / SR
    with torch.no_grad():
        a_true, fc_true = coefficients({k: torch.tensor(v) for k, v in TRUE.items()}, t)
        target = allpole(x, a_true)
    rows = []
    for method in ["TD", "FS 128", "FS 256", "FS 512", "FS 1024", "FS 2048", "FS 4096"]:
        r = fit(method, x, target, steps)
        rows.append(r)
        print({k: v for k, v in r.items() if k != "fc"}, flush=True)
    with torch.no_grad():
        init = fit("TD", x, target, 0)
    lines = [
        "# System identification of a time-varying all-pole filter",
        "",
        f"TB-303-like swept two-pole low-pass, 5 unknown parameters, 1 s at 16 kHz; {steps} Adam "
        "steps (lr 2e-2) on the multi-resolution STFT loss; every fit scored with the exact "
        "time-domain filter. Command: `python experiments/system_identification.py`.",
        "",
        f"Before fitting: ESR {init['esr']:.3f}, MSS {init['mss']:.3f}, cutoff error "
        f"{init['cutoff_error_cents']:.0f} cents.",
        "",
        "| training filter | ESR | MSS | cutoff error (cents) | fitting time (s) |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {r['method']} | {r['esr']:.4f} | {r['mss']:.3f} | {r['cutoff_error_cents']:.1f} | {r['seconds']:.1f} |"
            for r in rows
        ],  # fmt: skip
        "",
        "Published (DiffAPF, DAFx 2024, from FACTS.md): phaser matching ESR about 1.3-2.6 % "
        "(Table 2, SS-A to C; poles above 0.98 needed float64); TB-303 matching MSS 1.38 with "
        "time-domain gradients vs 1.49-1.66 with frequency sampling (Table 3). Their targets are "
        "recordings of real devices; ours is synthetic with a known truth (so parameter recovery "
        "is measured too), and our MSS is our multi-resolution STFT loss (auraloss defaults).",
        "",
    ]
    write_results("system_identification", "\n".join(lines), [{k: v for k, v in r.items() if k != "fc"} for r in rows], a.quick)  # fmt: skip
    figure(t, fc_true, init["fc"], rows, results_dir(a.quick) / "system_identification.png")


def figure(t, fc_true, fc_init, rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
    ax.plot(t, fc_true, "k", lw=2.5, label="true")
    ax.plot(t, fc_init, "k:", lw=1, label="initial")
    for r in rows:
        ax.plot(t, r["fc"], lw=1, label=r["method"])
    ax.set(
        xlabel="time (s)", ylabel="cutoff (Hz)", yscale="log", title="recovered cutoff trajectories"
    )
    ax.legend(fontsize="small", ncol=3)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
