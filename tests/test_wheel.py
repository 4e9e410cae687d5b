"""The package as a library user gets it: build the wheel and sdist, check their metadata, and
install the wheel with only its core dependencies into a fresh virtual environment (torch,
torchlpc and numpy reused from this one, nothing else), then use each reusable wing there.

Offline: the build runs without isolation (hatchling from the test extra) and the install
with ``--no-index``. ``-m "not slow"`` skips it (about 30 s).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

CORE = ("torch", "torchlpc", "numpy")
TRAINING_STACK = ("lightning", "hydra", "wandb", "matplotlib", "pyworld", "auraloss", "soundfile")

USE_THE_WINGS = r"""
import importlib.util, torch
from ddsp.filters import allpole, reflection_to_lpc
from ddsp.losses import MultiResolutionSTFTLoss
from ddsp.spectral import MelSpectrogram
from ddsp.synth import HarmonicPlusNoise

x = torch.randn(2, 8000, requires_grad=True)
MultiResolutionSTFTLoss()(x, torch.randn(2, 8000)).backward()
MelSpectrogram(16000, 512, 128)(x).sum().backward()
a = reflection_to_lpc(torch.rand(2, 8000, 4) * 0.5).requires_grad_()
allpole(x, a).square().mean().backward()
synth = HarmonicPlusNoise(16000, 80)
controls = {k: torch.randn(2, 10, n, requires_grad=True) for k, n in synth.control_sizes.items()}
synth(torch.full((2, 10), 150.0), controls).square().mean().backward()
assert all(t.grad is not None for t in (x, a, *controls.values()))
from ddsp.filters import _fused_cpu
assert _fused_cpu.load() is not None, "the fused all-pole backward did not build here"
present = [m for m in STACK if importlib.util.find_spec(m) is not None]
assert not present, present
try:
    import ddsp.models
except ImportError as e:
    assert "pip install 'ddsp-lpc[train]'" in str(e), e
else:
    raise AssertionError("ddsp.models imported without the train extra")
print("ok")
""".replace("STACK", repr(TRAINING_STACK))


def _closure(names: tuple[str, ...]) -> set[str]:
    """The installed distributions ``names`` need (their requirements, recursively)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name.lower().replace("_", "-") in seen:
            continue
        seen.add(name.lower().replace("_", "-"))
        for r in md.requires(name) or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _link_core(site: Path) -> None:
    """Symlink the core distributions (code and metadata) into a folder on the new
    environment's path, so it reuses them without seeing anything else installed here."""
    site.mkdir()
    for name in _closure(CORE):
        dist = md.distribution(name)
        for f in dist.files or []:
            top = f.parts[0]
            src = Path(dist.locate_file(top))
            if top.endswith(".pth") or top == ".." or "bin" == top:
                continue
            if src.exists() and not (site / top).exists():
                (site / top).symlink_to(src)


def test_wheel_installs_lean_and_the_wings_work(tmp_path):
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "PASSED" in check.stdout, check.stdout + check.stderr

    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("ddsp/", "ddsp_lpc-")) for n in names), names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    members = tarfile.open(sdist).getnames()
    tops = {m.split("/")[1] for m in members if m.count("/") >= 1}
    assert not tops & {"data", "experiments", "tests", "media", "conf"}, tops
    assert any(m.endswith("/LICENSE") for m in members)
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA")
    core = [
        line.split(":", 1)[1].strip()
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(Requirement(r).name for r in core) == sorted(CORE)

    venv = tmp_path / "venv"
    # no pip (nor Python 3.11's old setuptools, which would shadow the one torch requires) in
    # the new environment: this one's pip installs into it (``pip --python``)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    _link_core(tmp_path / "core")
    (Path(purelib) / "core.pth").write_text(str(tmp_path / "core") + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-index",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = {p.name.split("-")[0].lower() for p in Path(purelib).glob("*.dist-info")}
    assert not installed & set(TRAINING_STACK), installed
    # the fused all-pole backward compiles there too, into a cache of this test's own
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "torch_extensions")}
    run = subprocess.run(
        [py, "-c", USE_THE_WINGS],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout + run.stderr
