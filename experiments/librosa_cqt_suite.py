"""librosa's own CQT test suite, run against our CQT / VQT / inverse / Griffin-Lim.

    git clone --depth 1 --branch 0.11.0 https://github.com/librosa/librosa /tmp/librosa
    python experiments/librosa_cqt_suite.py /tmp/librosa            # writes results/
    python experiments/librosa_cqt_suite.py /tmp/librosa --quick    # temporary output

Takes ``tests/test_constantq.py`` from a librosa checkout (the installed version's tag: the
tests of another version may test another behaviour), copies it to a temporary folder and runs
it with pytest after pointing ``librosa.cqt``, ``librosa.vqt``, ``librosa.icqt`` and
``librosa.griffinlim_cqt`` at :mod:`ddsp.spectral.functional` (numpy in, float64 torch inside,
numpy out in the requested dtype). Nothing of librosa's is copied into this repository.

What the adapters map: librosa's keyword names to ours (``sr`` -> ``sample_rate``, ``fmin`` ->
``f_min``, ``random_state`` -> a seeded generator); our ``ValueError`` to librosa's
``ParameterError`` (the tests expect that class for bad arguments); ``res_type`` is not used
(our 2:1 decimator is a fixed Kaiser-windowed sinc, :func:`ddsp.dsp.kaiser_sinc_lowpass`).
A case asking for something we do not provide (non-equal ``intervals``) is skipped with that
reason; tests of librosa functions we do
not replace (``hybrid_cqt``, ``pseudo_cqt``) are deselected and counted. Writes
``librosa_cqt_suite.md/.json``: passed / failed / skipped per test function, and why.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from _results import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddsp.spectral import functional as SF  # noqa: E402

NOT_OURS = ("hybrid", "pseudo")  # tests of librosa functions we do not replace
KNOWN = {  # deliberate differences, explained in the table
    "test_griffinlim_cqt_momentum_warn": "ours raises for momentum >= 1 (the iteration "
    "diverges) where librosa warns and goes on",
}
NOT_APPLICABLE = {  # tests of librosa's own conventions rather than of the transform
    "test_cqt_early_downsample": "librosa's deprecation warning for res_type=None",
}
RENAME = {"sr": "sample_rate", "fmin": "f_min"}
IGNORED = {"res_type"}  # our decimator is fixed (see the module docstring)


def _kwargs(kwargs: dict, allowed: set[str]) -> tuple[dict, object]:
    import pytest

    kwargs = dict(kwargs)
    dtype = kwargs.pop("dtype", None)
    for key in IGNORED:
        kwargs.pop(key, None)
    intervals = kwargs.pop("intervals", "equal")
    if not (isinstance(intervals, str) and intervals == "equal"):
        pytest.skip("intervals other than 'equal' (just intonation, given ratios): not provided")
    out = {RENAME.get(k, k): v for k, v in kwargs.items()}
    unknown = set(out) - allowed
    if unknown:
        pytest.skip(f"arguments not provided: {sorted(unknown)}")
    return out, dtype


def _adapt(ours, allowed: set[str], complex_out: bool):
    def call(*args, **kwargs):
        import librosa

        data = args[0] if args else kwargs.pop("y" if "y" in kwargs else "C")

        kw, dtype = _kwargs(kwargs, allowed)
        if "random_state" in kw:  # ours takes a torch.Generator
            state = kw.pop("random_state")
            if isinstance(state, (np.random.RandomState, np.random.Generator)):
                state = int(
                    state.integers(2**31) if hasattr(state, "integers") else state.randint(2**31)
                )
            if state is not None and not isinstance(state, (int, np.integer)):
                raise librosa.ParameterError(f"unsupported random_state={state!r}")
            kw["generator"] = None if state is None else torch.Generator().manual_seed(int(state))
        x = torch.from_numpy(np.ascontiguousarray(data))
        x = x.to(torch.complex128 if x.is_complex() else torch.float64)
        try:
            y = ours(x, **kw).numpy()
        except ValueError as e:  # our argument errors: librosa's tests expect ParameterError
            raise librosa.ParameterError(str(e)) from e
        if dtype is not None:
            y = y.astype(dtype)
        elif not complex_out:
            y = y.astype(librosa.util.dtype_c2r(np.asarray(data).dtype))
        return y

    return call


COMMON = {
    "sample_rate", "hop_length", "f_min", "bins_per_octave", "tuning", "filter_scale", "norm",
    "sparsity", "window", "scale",
}  # fmt: skip
ADAPTERS = {
    "cqt": _adapt(SF.cqt, COMMON | {"n_bins", "pad_mode"}, True),
    "vqt": _adapt(SF.vqt, COMMON | {"n_bins", "pad_mode", "gamma"}, True),
    "icqt": _adapt(SF.icqt, COMMON | {"length"}, False),
    "griffinlim_cqt": _adapt(
        SF.griffinlim_cqt,
        COMMON | {"n_iter", "pad_mode", "momentum", "length", "init", "random_state"},
        False,
    ),
}


class _Collector:
    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[str, str]] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            why = ""
            if hasattr(report, "wasxfail"):  # librosa marks "must raise ParameterError" so
                outcome = "passed" if report.skipped else "failed"
                why = "" if report.skipped else "did not raise the error librosa expects"
                self.outcomes[report.nodeid] = (outcome, why)
                return
            if report.skipped and isinstance(report.longrepr, tuple):
                why = report.longrepr[2].removeprefix("Skipped: ")
            elif report.failed:
                why = str(report.longrepr).strip().splitlines()[-1][:160]
                why = re.sub(r"\S*librosa-cqt-suite-[^/]+/", "", why)  # the temporary folder
            if report.nodeid not in self.outcomes or report.outcome != "passed":
                self.outcomes[report.nodeid] = (report.outcome, why)

    def pytest_collection_modifyitems(self, items) -> None:
        def mine(item) -> bool:
            return not any(k in item.name for k in NOT_OURS) and (
                item.originalname not in NOT_APPLICABLE
            )

        self.deselected = [i.nodeid for i in items if not mine(i)]
        items[:] = [i for i in items if mine(i)]


def _test_file(src: Path) -> tuple[str, str]:
    import librosa

    version = librosa.__version__
    if subprocess.run(["git", "-C", str(src), "rev-parse"], capture_output=True).returncode == 0:
        try:
            text = subprocess.run(
                ["git", "-C", str(src), "show", f"{version}:tests/test_constantq.py"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            return text, f"librosa {version} (git tag)"
        except subprocess.CalledProcessError:
            pass
    path = src / "tests" / "test_constantq.py"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; clone librosa {version} there (see --help)")
    return path.read_text(), f"{path} (librosa {version} installed; check the versions match)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("librosa_src", help="a librosa git repository (bare or not) or source tree")
    ap.add_argument("--quick", action="store_true", help="temporary output (the same run)")
    a = ap.parse_args(argv)
    import librosa
    import pytest

    text, origin = _test_file(Path(a.librosa_src))
    for name, fn in ADAPTERS.items():
        setattr(librosa, name, fn)
    collector = _Collector()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="librosa-cqt-suite-") as tmp:
        (Path(tmp) / "test_constantq.py").write_text(text)
        (Path(tmp) / "test_core.py").write_text(  # the one helper the file imports from there
            "import numpy as np\n\n\ndef srand(seed=628318530):\n    np.random.seed(seed)\n"
        )
        pytest.main(
            [str(Path(tmp) / "test_constantq.py"), "-q", "-p", "no:cacheprovider", "-W", "ignore"],
            plugins=[collector],
        )
        shutil.rmtree(Path(tmp) / "__pycache__", ignore_errors=True)
    seconds = time.perf_counter() - t0
    per_test: dict[str, Counter] = defaultdict(Counter)
    reasons: dict[str, Counter] = defaultdict(Counter)
    for nodeid, (outcome, why) in collector.outcomes.items():
        name = nodeid.split("::")[-1].split("[")[0]
        per_test[name][outcome] += 1
        if why:
            reasons[name][why] += 1
    total = Counter(o for o, _ in collector.outcomes.values())
    lines = [
        "# librosa's CQT test suite against ours",
        "",
        f"`python experiments/librosa_cqt_suite.py <librosa checkout>`: `tests/test_constantq.py`"
        f" of {origin}, `librosa.cqt / vqt / icqt / griffinlim_cqt` pointed at"
        " `ddsp.spectral.functional`; "
        f"{seconds:.0f} s, 1 thread. Passed {total['passed']}, failed {total['failed']}, "
        f"skipped {total['skipped']}; deselected: {len(collector.deselected)} (tests of "
        "`hybrid_cqt` / `pseudo_cqt`, librosa's own functions; "
        + "; ".join(f"`{k}`: {v}" for k, v in NOT_APPLICABLE.items())
        + "). A test librosa marks as expecting `ParameterError` counts as passed when ours "
        "raised it.",
        "",
        "| test | passed | failed | skipped | why (failed / skipped) |",
        "|---|---:|---:|---:|---|",
    ]
    for name, c in sorted(per_test.items()):
        why = KNOWN.get(name) or "; ".join(f"{r} (x{n})" for r, n in reasons[name].most_common(3))
        lines.append(f"| {name} | {c['passed']} | {c['failed']} | {c['skipped']} | {why} |")
    data = {
        "origin": origin,
        "seconds": seconds,
        "totals": dict(total),
        "deselected": [k.split("::", 1)[-1] for k in collector.deselected],
        "cases": {  # test ids without the temporary folder's name
            k.split("::", 1)[-1]: {"outcome": o, "why": w}
            for k, (o, w) in collector.outcomes.items()
        },
    }
    write_results("librosa_cqt_suite", "\n".join(lines) + "\n", data, a.quick)


if __name__ == "__main__":
    main()
