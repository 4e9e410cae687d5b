"""Vocoder decoders' real-time factor on one CPU thread, and where GOLF-ss spends its time.

    python experiments/decoder_speed.py            # 6 s clip, 1 thread, 31 runs per row
    python experiments/decoder_speed.py --quick    # 11 runs; never touches experiments/results

A 6 s clip at 16 kHz (a shipped recording, repeated to length) is analysed and encoded once by
the pretrained GOLF-ss; every decoder renders the same f0, voicing and (for GOLF-ss / GOLF-ff)
the same controls; the other vocoders, at their configs' sizes, get random controls (their
speed does not depend on the values). Real-time factor = decoder wall time / 6 s, the median
of the runs after dropping the fastest and slowest (:func:`ddsp.metrics.real_time_factor`),
the rows alternating so that a slow spell of the machine hits them all. The GOLF-ss breakdown
times each stage of its forward alone, on the same inputs; the streaming row is the worst
4-frame block of :class:`ddsp.synth.StreamingGOLF` over the clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import machine, write_results  # noqa: E402

from ddsp.filters.allpole import allpole_sos  # noqa: E402
from ddsp.models.checkpoint import load_vocoder  # noqa: E402
from ddsp.resynth import encode_file  # noqa: E402
from ddsp.synth import (  # noqa: E402
    GlottalFlowLPC,
    HarmonicPlusNoise,
    PulseTrainLPC,
    SawtoothFIR,
    StreamingGOLF,
)
from ddsp.synth.core import exp_sigmoid, gate_voiced, normalised_biquads  # noqa: E402
from ddsp.synth.glottal import glottal_oscillator  # noqa: E402
from ddsp.synth.noise import filtered_noise, noise_magnitudes  # noqa: E402

CLIP = Path(__file__).resolve().parents[1] / "data" / "fillets_cs" / "barrel__bar-v-genofond.ogg"
SECONDS = 6.0


def six_seconds(model, cfg) -> tuple[dict, dict]:
    """The clip's batch and controls, tiled to 6 s."""
    batch, voice = encode_file(model, cfg, CLIP)
    frames = int(SECONDS * cfg.data.sample_rate / cfg.data.hop_length)

    def tile(x: torch.Tensor) -> torch.Tensor:
        reps = -(-frames // x.shape[1])
        return x.repeat(1, reps, *([1] * (x.dim() - 2)))[:, :frames]

    f0, voiced = tile(voice.f0), tile(batch["voiced"])
    return {"f0": f0, "voiced": voiced}, {k: tile(c) for k, c in voice.controls.items()}


def timer(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def rtf(times: list[float]) -> float:
    return float(np.median(sorted(times)[1:-1])) / SECONDS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    a = ap.parse_args(argv)
    runs = a.runs or (11 if a.quick else 31)
    torch.set_num_threads(1)
    model, cfg = load_vocoder(None)
    sr, hop = cfg.data.sample_rate, cfg.data.hop_length
    inputs, controls = six_seconds(model, cfg)
    f0, voiced = inputs["f0"], inputs["voiced"]
    g = torch.Generator().manual_seed(0)
    ss = model.synth
    ff = GlottalFlowLPC(sr, hop, mode="frame", room_length=128)
    others = {
        "DDSP (harmonic + noise)": HarmonicPlusNoise(sr, hop),
        "SawSing": SawtoothFIR(sr, hop),
        "PULF": PulseTrainLPC(sr, hop),
    }
    decoders = {
        "GOLF-ss (pretrained)": (ss, controls),
        "GOLF-ff": (ff, controls),
        **{
            name: (
                s,
                {
                    k: torch.randn(1, f0.shape[1], n, generator=g)
                    for k, n in s.control_sizes.items()
                },
            )
            for name, s in others.items()
        },
    }
    # GOLF-ss's stages, on the same inputs
    src, vt = controls["source"], controls["vocal_tract"]
    pos = torch.sigmoid(src[..., 0])
    with torch.no_grad():
        exc, sos = ss.excitation(f0, controls, voiced=voiced)
        y = allpole_sos(exc, sos, hop_length=hop)
    stages = {
        "glottal oscillator (4x, decimated)": lambda: glottal_oscillator(
            f0, pos, ss.tables, sr, hop, ss.oversample
        ),
        "glottal gain and voicing gate": lambda: gate_voiced(
            torch.ones(1, f0.shape[1] * hop) * exp_sigmoid(src[..., 1]).repeat_interleave(hop, -1),
            voiced,
            hop,
        ),
        "noise (129-band FIR)": lambda: filtered_noise(noise_magnitudes(controls["noise"]), hop),
        "vocal tract: biquads + unit-power gain": lambda: normalised_biquads(
            vt, ss.lpc_order, ss.max_radius
        ),
        "vocal tract: filter (11 biquads, per sample)": lambda: allpole_sos(
            exc, sos, hop_length=hop
        ),
        "room FIR (128 taps)": lambda: ss.room(y),
    }
    enc_batch = encode_file(model, cfg, CLIP)[0]
    enc_seconds = enc_batch["audio"].shape[-1] / sr
    times: dict[str, list[float]] = {k: [] for k in [*decoders, *stages]}
    stream_worst: list[float] = []
    with torch.no_grad():
        for s, c in decoders.values():  # warm-up
            s(f0, c, voiced=voiced)
        for _ in range(runs):  # alternate: every row sees the machine's slow spells
            for name, (s, c) in decoders.items():
                times[name] += timer(lambda s=s, c=c: s(f0, c, voiced=voiced), 1)
            for name, fn in stages.items():
                times[name] += timer(fn, 1)
        encoder = timer(lambda: model.encode(enc_batch), max(5, runs // 3))
        stream = StreamingGOLF(ss)
        for i in range(0, f0.shape[1], 4):
            sl = slice(i, i + 4)
            t0 = time.perf_counter()
            stream(f0[:, sl], {k: v[:, sl] for k, v in controls.items()}, voiced[:, sl])
            stream_worst.append((time.perf_counter() - t0) * sr / (4 * hop))
    total = rtf(times["GOLF-ss (pretrained)"])
    rows = [
        f"| {name} | {rtf(times[name]):.4f} | {1000 * rtf(times[name]) * SECONDS:.1f} |"
        for name in decoders
    ]
    stage_rows = [
        f"| {name} | {rtf(times[name]):.4f} | {1000 * rtf(times[name]) * SECONDS:.1f} | "
        f"{100 * rtf(times[name]) / total:.0f} % |"
        for name in stages
    ]
    cpu = machine()
    md = "\n".join(
        [
            "# Decoder real-time factor, one CPU thread",
            "",
            f"6 s at {sr} Hz, hop {hop}; median of {runs} alternating runs after dropping the "
            f"fastest and slowest; 1 torch thread; {cpu}. Command: "
            f"`python experiments/decoder_speed.py{' --quick' if a.quick else ''}`.",
            "",
            "| decoder | real-time factor | ms for 6 s |",
            "|---|---|---|",
            *rows,
            "",
            "GOLF-ss, each stage alone (the share is of the whole decoder's time):",
            "",
            "| stage | real-time factor | ms for 6 s | share |",
            "|---|---|---|---|",
            *stage_rows,
            "",
            f"Encoder (GOLF-ss's, for reference; on the {enc_seconds:.1f} s recording): real-time "
            f"factor {rtf(encoder) * SECONDS / enc_seconds:.4f}.",
            "",
            f"Streaming GOLF-ss, 4-frame blocks ({4 * hop / sr * 1000:.0f} ms): worst block's "
            f"real-time factor {max(stream_worst):.3f}, median {float(np.median(stream_worst)):.3f}.",
            "",
        ]
    )
    data = {
        "runs": runs,
        "machine": cpu,
        "rtf": {k: rtf(v) for k, v in times.items()},
        "stream_worst_rtf": max(stream_worst),
        "encoder_rtf": rtf(encoder) * SECONDS / enc_seconds,
    }
    write_results("decoder_speed", md, data, a.quick)


if __name__ == "__main__":
    main()
