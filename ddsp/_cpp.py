"""The package's C++ kernels, compiled on first use (``torch.utils.cpp_extension``).

Each wing keeps its kernels' source in a Python string and calls :func:`load` with a name
prefix; the build is cached by torch (``~/.cache/torch_extensions``) under a name that hashes
everything the binary depends on (:func:`build_name`), so it compiles once per environment
(10-20 s) and later processes load it in well under a second. Without a compiler, or with
``DDSP_CPP=0``, :func:`load` returns False (warned once) and the callers keep their eager
torch code.

:data:`PRELUDE` starts every source: the few ATen headers the kernels need (not
``<torch/extension.h>``: torch's whole C++ API and pybind11 take five times as long to
compile) and ``simd()``, the run-time choice of AVX2 loops. The build targets the baseline
x86-64 ISA, so one binary runs on every machine; loops written for AVX2 carry
``__attribute__((target("avx2")))`` and run only where ``simd()`` says so. ``-ffp-contract=off``
keeps products and sums apart, so an AVX2 loop that performs a scalar loop's operations in the
same order gives the same bits (``DDSP_SIMD=0`` selects the scalar loops; the tests compare).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PRELUDE", "build_name", "load"]

PRELUDE = r"""
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>
#include <type_traits>
#include <vector>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DDSP_AVX2 1
#endif

// whether the AVX2 loops run: the CPU has AVX2 and DDSP_SIMD is not "0"
static bool simd() {
#ifdef DDSP_AVX2
  static const bool cpu = __builtin_cpu_supports("avx2");
  const char* off = std::getenv("DDSP_SIMD");
  return cpu && !(off && off[0] == '0' && off[1] == 0);
#else
  return false;
#endif
}
"""

CFLAGS = ["-O3", "-fopenmp", "-ffp-contract=off"]
LDFLAGS = ["-fopenmp"]

_LOADED: dict[str, bool] = {}  # build name -> loaded (False: failed, warned)


def build_name(prefix: str, sources: Sequence[str]) -> str:
    """The extension's name in torch's build cache: ``prefix`` and a hash of everything the
    binary depends on: the sources and flags, torch's location, version and build (git
    revision, CUDA), Python's version and ABI. Two environments (two virtual environments, or
    two torch builds) thus keep two builds side by side instead of rebuilding one in turn:
    torch's build files name the headers' path, and a changed command line makes ninja compile
    again."""
    import hashlib
    import sysconfig

    import torch

    parts = [
        *sources,
        " ".join(CFLAGS + LDFLAGS),
        os.path.dirname(torch.__file__),  # its headers' path is in the build's command line
        torch.__version__,
        str(getattr(torch.version, "git_version", "")),
        str(torch.version.cuda),
        sys.version,
        str(sysconfig.get_config_var("SOABI")),
    ]
    digest = hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]
    return f"{prefix}_{digest}"


def load(prefix: str, sources: Sequence[str], what: str, fallback: str) -> bool:
    """Build (once per environment) and load the extension of ``sources`` (their
    ``TORCH_LIBRARY`` ops then live in ``torch.ops``). ``what`` names it in the one line said
    while compiling, ``fallback`` what runs instead in the warning if it cannot be built.
    False with ``DDSP_CPP=0`` or when the build failed (warned once per process)."""
    if os.environ.get("DDSP_CPP", "1") == "0":
        return False
    name = build_name(prefix, sources)
    if name not in _LOADED:
        try:
            from torch.utils.cpp_extension import _get_build_directory
            from torch.utils.cpp_extension import load as build

            _ninja_on_path()
            say_if_building(name, what)
            paths = []
            for i, text in enumerate(sources):
                path = Path(_get_build_directory(name, False)) / f"{name}_{i}.cpp"
                if not path.exists() or path.read_text() != text:
                    path.write_text(text)  # rewritten only when changed (ninja reads mtimes)
                paths.append(str(path))
            build(
                name=name,
                sources=paths,
                extra_cflags=CFLAGS,
                extra_ldflags=LDFLAGS,
                is_python_module=False,  # loaded into torch.ops as dispatcher ops
                verbose=False,
            )
            _LOADED[name] = True
        except Exception as e:  # no compiler, no headers, read-only cache, ...
            _LOADED[name] = False
            warnings.warn(
                f"ddsp: could not build {what} ({type(e).__name__}: {str(e)[:200]}); "
                f"using {fallback}",
                stacklevel=3,
            )
    return _LOADED[name]


def _ninja_on_path() -> None:
    """torch finds ninja on PATH; the ``ninja`` wheel puts it next to this Python, which is not
    on PATH when the environment is used without being activated (``.venv/bin/python ...``)."""
    if shutil.which("ninja"):
        return
    dirs = [os.path.dirname(sys.executable)]
    try:
        import ninja

        dirs.insert(0, ninja.BIN_DIR)
    except (ImportError, AttributeError):
        pass
    for d in dirs:
        if os.path.exists(os.path.join(d, "ninja")):
            os.environ["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
            return


def say_if_building(name: str, what: str) -> None:
    """One line on stderr whenever this exact build (:func:`build_name`) is not in torch's
    cache yet, i.e. every time it is compiled: the first call that needs it then takes 10-20 s
    longer."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        built = os.path.join(_get_build_directory(name, False), name + ".so")
    except Exception:  # a private torch helper: assume a build is due
        built = ""
    if not os.path.exists(built):
        print(
            f"ddsp: compiling {what} as {name} (once per torch environment, ~20 s)",
            file=sys.stderr,
            flush=True,
        )
