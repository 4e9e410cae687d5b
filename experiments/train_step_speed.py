"""Time one training step (forward + backward + Adam) of a configured vocoder on CPU.

    python experiments/train_step_speed.py       # ddsp_hpn and lpc_vocoder (GOLF-ss), 1 and 2 threads
    python experiments/train_step_speed.py --experiments ddsp_hpn pulf --repeats 30

Uses a real batch from the shipped data (batch and segment length from the config) and the
experiment's own model, loss and optimiser, without Lightning's loop. Writes
experiments/results/train_step_speed.md and .json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time

import torch
from _results import machine, write_results
from hydra.utils import instantiate

from ddsp.training import ROOT, compose_config

os.environ.setdefault("DDSP_ROOT", str(ROOT))  # conf/paths, for the configs composed here


def setup(experiment: str) -> dict:
    """The experiment's model, loss, optimiser and one real training batch."""
    cfg = compose_config(f"experiment={experiment}")
    torch.manual_seed(0)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    return {"model": model, "opt": model.optimizer_factory(model.parameters()), "batch": batch}


def step(s: dict) -> float:
    model, opt, batch = s["model"], s["opt"], s["batch"]
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = model.loss(model(batch).unsqueeze(1), batch["audio"].unsqueeze(1))
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def measure(experiments: list[str], threads: int, repeats: int, warmup: int = 3) -> list[dict]:
    """Steps of every experiment, alternating (a slow spell of the machine hits them all)."""
    torch.set_num_threads(threads)
    runs = {e: setup(e) for e in experiments}
    times: dict[str, list[float]] = {e: [] for e in experiments}
    for i in range(warmup + repeats):
        for e, s in runs.items():
            t = step(s)
            if i >= warmup:
                times[e].append(t)
    return [
        {
            "experiment": e,
            "threads": threads,
            "batch": list(runs[e]["batch"]["audio"].shape),
            "median_ms": 1000 * statistics.median(times[e]),
            "min_ms": 1000 * min(times[e]),
            "parameters": sum(p.numel() for p in runs[e]["model"].parameters()),
        }
        for e in experiments
    ]


def kernel_rows(repeats: int) -> list[dict]:
    """GOLF-ss's three training kernels alone against the general paths they replace, forward +
    backward on a training batch's shapes (16 x 100 frames, hop 160, 11 biquads, one thread),
    alternating call by call."""
    from unittest import mock

    from ddsp.filters import allpole_sos, cascade_grad, logits_to_biquads, response
    from ddsp.filters.response import biquad_log_rms_gain
    from ddsp.synth import glottal

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    b, frames, hop = 16, 100, 160
    x = torch.randn(b, frames * hop, generator=g, requires_grad=True)
    sos = logits_to_biquads(torch.randn(b, frames, 11, 2, generator=g)).detach().requires_grad_()
    gy, gf = torch.randn(b, frames * hop, generator=g), torch.randn(b, frames, generator=g)
    tables, _ = glottal.glottal_wavetables(100, 2048)
    f0 = 90 + 300 * torch.rand(b, frames, generator=g)
    pos = torch.rand(b, frames, generator=g).requires_grad_()

    def cascade():
        torch.autograd.grad(allpole_sos(x, sos, hop_length=hop), (x, sos), gy)

    def gain():
        torch.autograd.grad(biquad_log_rms_gain(sos), sos, gf)

    def oscillator():
        torch.autograd.grad(glottal.glottal_oscillator(f0, pos, tables, 16000, hop, 4), pos, gy)

    cases = [
        ("vocal-tract cascade (11 biquads, per sample)", cascade, cascade_grad, "available"),
        ("unit-power gain", gain, response, "_kernels_take_gradient"),
        ("glottal oscillator (4x, decimated)", oscillator, glottal, "_kernels_take_gradient"),
    ]
    rows = []
    for name, fn, module, switch in cases:
        times: dict[str, list[float]] = {"kernel": [], "general": []}
        for i in range(3 + repeats):
            for path in times:
                with (
                    mock.patch.object(module, switch, lambda *t: False)
                    if path == "general"
                    else (contextlib.nullcontext())
                ):
                    t0 = time.perf_counter()
                    fn()
                    if i >= 3:
                        times[path].append(time.perf_counter() - t0)
        ms = {p: 1000 * statistics.median(t) for p, t in times.items()}
        rows.append({"stage": name, "kernel_ms": ms["kernel"], "general_ms": ms["general"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--experiments", nargs="+", default=["ddsp_hpn", "lpc_vocoder"])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="3 repeats, 1 thread, temporary output")
    a = ap.parse_args()
    if a.quick:
        a.repeats, a.threads = 3, [1]
    rows = [r for t in a.threads for r in measure(a.experiments, t, a.repeats)]
    base = a.experiments[0]
    lines = [
        f"# Training step time: {', '.join(f'`{e}`' for e in a.experiments)}",
        "",
        f"Machine: {machine()}; {torch.get_num_threads()} threads max, "
        f"Python {platform.python_version()}.",
        f"One step = forward + backward + Adam on a real batch, median of {a.repeats} after 3 warm-up "
        f"steps, the experiments alternating step by step. Command: `python experiments/train_step_speed.py"
        f"{' --quick' if a.quick else ''}`.",
        "",
        f"| experiment | threads | batch (B, T) | parameters | median ms | min ms | / {base} |",
        "|---|---|---|---|---|---|---|",
    ]
    ref = {r["threads"]: r["median_ms"] for r in rows if r["experiment"] == base}
    for r in rows:
        lines.append(
            f"| {r['experiment']} | {r['threads']} | {tuple(r['batch'])} | {r['parameters'] / 1e6:.2f} M "
            f"| {r['median_ms']:.0f} | {r['min_ms']:.0f} | {r['median_ms'] / ref[r['threads']]:.2f} |"
        )
    kernels = kernel_rows(a.repeats)
    lines += [
        "",
        "GOLF-ss's training kernels (C++ forward and backward, `tests/test_training_kernels.py`) "
        "alone against the general paths they replace, forward + backward at 16 x 100 frames of "
        f"160 samples, one thread, median of {a.repeats}, alternating:",
        "",
        "| stage | kernels ms | general path ms | speed-up |",
        "|---|---|---|---|",
    ]
    for r in kernels:
        lines.append(
            f"| {r['stage']} | {r['kernel_ms']:.1f} | {r['general_ms']:.1f} "
            f"| {r['general_ms'] / r['kernel_ms']:.1f}x |"
        )
    text = "\n".join(lines) + "\n"
    write_results("train_step_speed", text, {"steps": rows, "kernels": kernels}, a.quick)


if __name__ == "__main__":
    main()
