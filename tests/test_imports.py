"""The reusable wings must not pull in the training stack."""

import subprocess
import sys

import pytest

HEAVY = (
    "lightning",
    "pytorch_lightning",
    "hydra",
    "wandb",
    "omegaconf",
    "auraloss",
    "scipy",
    "librosa",
    "matplotlib",
    "soundfile",
)


@pytest.mark.parametrize("module", ["ddsp.spectral", "ddsp.filters", "ddsp.losses", "ddsp.synth"])
def test_wing_imports_no_training_stack(module):
    # torchlpc's numba imports scipy whenever scipy is installed: that comes with the
    # dependency, not from our code, so whatever `import torchlpc` alone brings is allowed
    code = (
        "import sys, torchlpc; base = set(sys.modules); "
        f"import {module}; "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} and m not in base]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"


def test_losses_import_by_name():
    from ddsp.losses import MultiResolutionSTFTLoss

    assert MultiResolutionSTFTLoss().losses
