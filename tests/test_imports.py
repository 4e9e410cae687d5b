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


# Layers, lowest first: a module may import its own subpackage and lower layers only. Checked
# by importing each in a fresh interpreter and listing the ddsp subpackages that came with it.
LAYERS = [
    {"dsp", "precision", "_cpp", "f0", "_extras", "cli"},
    {"spectral"},
    {"filters", "losses"},
    {"synth", "metrics", "data", "plot"},
    {"models", "compare", "training", "evaluate", "resynth"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


@pytest.mark.parametrize(
    "module",
    [
        "ddsp.spectral",
        "ddsp.f0",
        "ddsp.dsp",
        "ddsp.filters",
        "ddsp.losses",
        "ddsp.synth",
        "ddsp.metrics",
        "ddsp.data.prepare",
        "ddsp.data.datamodule",
        "ddsp.models",
    ],
)
def test_imports_flow_downward(module):
    code = (
        f"import sys, {module}; "
        "print(' '.join(sorted({n.split('.')[1] for n in sys.modules if n.startswith('ddsp.')})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    own = module.split(".")[1]
    upward = [m for m in out.stdout.split() if m != own and LAYER[m] >= LAYER[own]]
    assert not upward, f"{module} imports {upward} (same or higher layer)"


def test_data_preparation_needs_no_filters_or_lightning():
    # preparing data (f0, loudness, cache) pulls neither torchlpc and the compiled all-pole
    # backward nor the training stack
    code = (
        "import sys, ddsp.data.prepare; "
        "print([m for m in ('torchlpc', 'lightning', 'ddsp.synth') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
