"""What a GPU machine without network needs to run ``experiments/gpu_check.py``, carried along.

The lent GPU machines (``/work/.library/device``) run an image with Python 3.12 and a CUDA
build of torch, Lightning, numba, scipy, matplotlib, pytest and hypothesis, and nothing can be
fetched there. This script prepares the rest here and installs it there:

    python experiments/gpu_kit.py download     # here: wheels and sources into .whl/ (ignored)
    python3 experiments/gpu_kit.py install     # there: into .gpu_site/ (ignored), once

A device command may run 10 minutes, so the check goes in two calls to one warm machine (it
is handed back 30 s after a call; ``.gpu_site`` is an ignored path, kept between calls), each
with ``carry: [".whl"]`` and ``timeout_s: 600``:

    python3 experiments/gpu_kit.py install && PYTHONPATH=$PWD/.gpu_site:$PWD python3
    experiments/gpu_check.py --parts parity allpole loss; cp experiments/results/gpu_check_* $OUT/

    PYTHONPATH=$PWD/.gpu_site:$PWD python3 experiments/gpu_check.py --parts spectral training;
    cp experiments/results/gpu_check_* experiments/results/spectral_speed_cuda.* $OUT/

(the install builds torchlpc's CUDA kernels and pyworld: about a minute here on two CPU cores
for the CPU build, not yet timed there). Then commit what comes back under
``experiments/results``.

``download`` pins every package to the version installed in this environment (what the tests
here ran against): pure-Python and manylinux wheels for CPython 3.12, and sources for those
that must be built against the machine's torch (torchlpc: its CUDA kernels) or publish no such
wheel. ``install`` builds the sources without build isolation (torch, numpy, Cython and a
compiler are in the image; torchlpc compiles for ``TORCH_CUDA_ARCH_LIST``, default the
machine's GPU) and checks that torchlpc's kernel runs on CUDA.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / ".whl"
SITE = ROOT / ".gpu_site"

# packages gpu_check needs that the image lacks (its own list: KINDS.md in the device docs)
WHEELS = [
    "hydra-core",
    "omegaconf",
    "soundfile",
    "cffi",
    "pycparser",
    "soxr",
    "librosa",
    "audioread",
    "decorator",
    "pooch",
    "platformdirs",
    "nnAudio",
    "auraloss",
]
SOURCES = ["torchlpc", "pyworld", "antlr4-python3-runtime"]  # built there (or wheel-less)
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]


def pinned(name: str) -> str:
    """``name==version`` as installed here."""
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        raise SystemExit(
            f"gpu_kit: {name} is not installed here; run `make install` first"
        ) from None


def pip(*args: str, env: dict | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def download(kit: Path) -> None:
    kit.mkdir(exist_ok=True)
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    for name in WHEELS:
        pip("download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
            "--implementation", "cp", *platforms, "-d", str(kit), pinned(name))  # fmt: skip
    for name in SOURCES:  # metadata is prepared with this environment's torch: no isolation
        pip("download", "-q", "--no-deps", "--no-binary=:all:", "--no-build-isolation",
            "-d", str(kit), pinned(name))  # fmt: skip
    size = sum(f.stat().st_size for f in kit.iterdir()) / 2**20
    print(f"gpu_kit: {len(list(kit.iterdir()))} files, {size:.1f} MiB in {kit}")


def install(kit: Path, site: Path) -> None:
    stamp = site / ".installed"
    if stamp.exists():
        print(f"gpu_kit: already installed in {site}")
        return
    wheels = sorted(kit.glob("*.whl"))
    sources = sorted(kit.glob("*.tar.gz")) + sorted(kit.glob("*.zip"))
    if not wheels and not sources:
        raise SystemExit(
            f"gpu_kit: no kit in {kit}: run `python experiments/gpu_kit.py download` on a "
            "machine with network first, and carry .whl to this one"
        )
    common = ["-q", "--no-index", "--no-deps", "--no-compile", "--target", str(site)]
    pip("install", *common, *map(str, wheels))
    env = dict(os.environ, MAX_JOBS=str(os.cpu_count() or 4))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    if "TORCH_CUDA_ARCH_LIST" not in env:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
            env["TORCH_CUDA_ARCH_LIST"] = f"{major}.{minor}"
    for src in sources:
        pip("install", *common, "--no-build-isolation", "--upgrade", str(src), env=env)
    check = (  # torchlpc's compiled kernel on the GPU (on the CPU where there is none)
        "import torch, torchlpc; d = 'cuda' if torch.cuda.is_available() else 'cpu'; "
        "x, a = torch.randn(2, 64, device=d), 0.1 * torch.randn(2, 64, 3, device=d); "
        "y = torch.ops.torchlpc.lpc(x, a, torch.zeros(2, 3, device=d)); "
        "print('torchlpc kernel on', d, bool(torch.isfinite(y).all()))"
    )
    subprocess.run([sys.executable, "-c", check], check=True, env=env)
    stamp.write_text("ok\n")
    print(f"gpu_kit: installed in {site}; use PYTHONPATH={site}:{ROOT}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("step", choices=["download", "install"])
    ap.add_argument("--kit", type=Path, default=KIT, help="where the wheels and sources are")
    ap.add_argument("--site", type=Path, default=SITE, help="where install puts them")
    a = ap.parse_args(argv)
    if a.step == "download":
        download(a.kit)
    else:
        install(a.kit, a.site)


if __name__ == "__main__":
    main()
