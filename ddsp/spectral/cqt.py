"""``VQT`` and ``CQT`` modules: librosa-exact constant/variable-Q transforms, trainable kernels;
their inverses and the CQT's Griffin-Lim."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import _checks
from . import functional as SF
from ._cqt import GEMM_MAX_FFT, octave_kernels, vqt_power
from ._stft import no_overflow, pad_mode_name


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, device, shape and values (a NaN never equals: rebuilt, as it should be)."""
    return a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and torch.equal(a, b)


class VQT(nn.Module):
    """Variable-Q transform of ``(..., time)`` audio, equal to ``librosa.vqt``.

    Args:
        sample_rate, hop_length, f_min, n_bins, bins_per_octave, gamma, filter_scale, norm,
            sparsity, window, scale, pad_mode, method, tuning: as
            :func:`ddsp.spectral.functional.vqt` (``tuning`` in fractions of a bin, as librosa;
            a number here, see :func:`ddsp.spectral.functional.estimate_tuning`).
        power: ``1.0`` magnitude (finite gradient at 0), ``2.0`` power, ``None`` complex.
        trainable: make each octave's frequency-domain kernels an ``nn.Parameter`` (complex,
            initialised to librosa's basis, so the output is unchanged before training).

    Attributes:
        frequencies: ``(n_bins,)`` centre frequencies in Hz (for axes and plots).

    Shape:
        ``(..., time)`` -> ``(..., n_bins, frames)`` with ``frames = 1 + time // hop_length``.
    """

    def __init__(
        self,
        sample_rate: float = 22050,
        hop_length: int = 512,
        f_min: float | None = None,
        n_bins: int = 84,
        bins_per_octave: int = 12,
        gamma: float | None = None,
        filter_scale: float = 1.0,
        norm: float | None = 1.0,
        sparsity: float = 0.01,
        window: str = "hann",
        scale: bool = True,
        pad_mode: str = "constant",
        method: str = "multirate",
        power: float | None = 1.0,
        trainable: bool = False,
        tuning: float = 0.0,
    ) -> None:
        super().__init__()
        pad_mode_name(pad_mode)  # refused here, not at the first call
        self.sample_rate, self.hop_length, self.pad_mode, self.power = (
            sample_rate,
            hop_length,
            pad_mode,
            _checks.power(power, none_ok=True),
        )
        if tuning is None or not isinstance(tuning, int | float):
            raise ValueError(
                f"tuning must be a number of bins, got {tuning!r}: a module builds its kernels "
                "once; estimate it from a recording with "
                "ddsp.spectral.functional.estimate_tuning(x, sample_rate), or call the "
                "functional cqt / vqt with tuning=None"
            )
        self.plan = SF.cqt_plan(
            float(sample_rate), hop_length, f_min, n_bins, bins_per_octave, filter_scale,
            norm, sparsity, window, scale, gamma, method, tuning,
        )  # fmt: skip
        self.register_buffer("frequencies", self.plan.freqs.float(), persistent=False)
        self.register_buffer("decimator", SF.decimation_filter(), persistent=False)
        self.trainable = trainable
        # kernels are kept as real views (..., 2): Module.to(dtype) casts complex tensors to a
        # real dtype by dropping their imaginary part, so CQT().to(torch.float64) silently
        # returned a wrong transform; real views follow .to / .double / .half like any weight
        if trainable:
            dtype = torch.get_default_dtype()
            self.kernels = nn.ParameterList(
                [nn.Parameter(torch.view_as_real(b).to(dtype)) for b, *_ in self.plan.octaves]
            )
        else:  # float64 views, cast to the input's precision on use
            for i, (b, *_) in enumerate(self.plan.octaves):
                self.register_buffer(f"basis{i}", torch.view_as_real(b), persistent=False)
        self._time_kernels: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    def _views(self) -> list[torch.Tensor]:
        if self.trainable:
            return list(self.kernels)
        return [self._buffers[f"basis{i}"] for i in range(len(self.plan.octaves))]

    def bases(self, dtype: torch.dtype) -> list[torch.Tensor]:
        """The per-octave kernels, complex, in the precision of real ``dtype``."""
        real = torch.float64 if dtype == torch.float64 else torch.float32
        return [torch.view_as_complex(v.to(real).contiguous()) for v in self._views()]

    def time_kernels(self) -> list[torch.Tensor] | None:
        """The octaves' float32 time-domain kernels (:func:`ddsp.spectral.functional.
        octave_kernels` of :meth:`bases`), without gradient, kept while the bases hold the
        values they were built from: a copy of those values is kept beside them and compared on
        each call (``torch.equal``; 0.08 ms on a 2-core Xeon, against 1 ms to rebuild), so every
        change is seen: an optimiser's step, ``load_state_dict``, ``.float()``, and also writes
        that no version counter records (``p.data.normal_()``). None when an octave's frame is
        too long for them (the direct method).

        Shape: ``[(n_fft_i, 2 n_i)]`` per octave, top octave first.
        """
        if any(n_fft > GEMM_MAX_FFT for _, n_fft, _, _ in self.plan.octaves):
            return None
        views, kept = self._views(), self._time_kernels
        if kept is None or not all(map(_same, kept[0], views)):
            with torch.no_grad():
                pairs = zip(self.bases(torch.float32), self.plan.octaves, strict=True)
                kernels = [octave_kernels(b, n_fft) for b, (_, n_fft, _, _) in pairs]
                self._time_kernels = ([v.detach().clone() for v in views], kernels)
        return self._time_kernels[1]

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.signal(x)
        batch = x.shape[:-1]
        flat, h = x.reshape(-1, x.shape[-1]), self.decimator.to(x.dtype)
        grad = torch.is_grad_enabled() and (
            x.requires_grad or (self.trainable and any(k.requires_grad for k in self.kernels))
        )
        if self.power is not None and x.dtype == torch.float32 and not grad:
            kernels = self.time_kernels()  # magnitudes without the complex transform, where it can
            if kernels is not None:
                out = vqt_power(flat, kernels, self.plan, self.pad_mode, h, self.power)
                if out is not None:
                    no_overflow(out, x, self.power)  # the power of a signal near 1e19
                    return out.reshape(*batch, *out.shape[-2:])
        out = SF.vqt_response(flat, self.bases(x.dtype), self.plan, self.pad_mode, h)
        out = out.reshape(*batch, *out.shape[-2:])
        out = out if self.power is None else SF.magnitude(out, self.power, floor_dims=(-2, -1))
        no_overflow(out, x, self.power)
        return out


class CQT(VQT):
    """Constant-Q transform (``librosa.cqt``): :class:`VQT` with ``gamma=0``.

    Shape:
        ``(..., time)`` -> ``(..., n_bins, frames)``.
    """

    def __init__(self, sample_rate: float = 22050, hop_length: int = 512, **kwargs) -> None:
        if "gamma" in kwargs:
            raise TypeError("CQT has gamma=0; use VQT for another gamma")
        super().__init__(sample_rate, hop_length, gamma=0.0, **kwargs)


# the forward transform's arguments that shape the inverse's kernels
INVERSE_ARGS = ("f_min", "n_bins", "bins_per_octave", "gamma", "filter_scale", "norm")
INVERSE_ARGS += ("sparsity", "window", "scale", "tuning")


def _takes(owner: str, kwargs: dict, allowed: tuple[str, ...]) -> None:
    """Refuse, when the module is built, an argument its functional form would refuse at the
    first call (as a TypeError naming an inner function)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"{owner} got unexpected argument(s) {', '.join(unknown)}; it takes "
            f"{', '.join(allowed)}"
        )


class InverseVQT(nn.Module):
    """Inverse variable-Q transform (``librosa.icqt``'s algorithm for ``gamma=0``); give it the
    forward transform's ``sample_rate``, ``hop_length`` and :data:`INVERSE_ARGS` (``n_bins`` is
    checked against the input's). See :func:`ddsp.spectral.functional.ivqt`.

    Shape:
        ``(..., n_bins, frames)`` complex -> ``(..., time)``.
    """

    def __init__(self, sample_rate: float = 22050, hop_length: int = 512, **kwargs) -> None:
        super().__init__()
        _takes(type(self).__name__, kwargs, INVERSE_ARGS)
        self.sample_rate, self.hop_length, self.kwargs = sample_rate, hop_length, kwargs

    @full_precision
    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        return SF.ivqt(spec, self.sample_rate, self.hop_length, length=length, **self.kwargs)


class InverseCQT(InverseVQT):
    """Inverse constant-Q transform, ``librosa.icqt``: :class:`InverseVQT` with ``gamma=0``."""

    def __init__(self, sample_rate: float = 22050, hop_length: int = 512, **kwargs) -> None:
        if "gamma" in kwargs:
            raise TypeError("InverseCQT has gamma=0; use InverseVQT for another gamma")
        super().__init__(sample_rate, hop_length, gamma=0.0, **kwargs)


class GriffinLimCQT(nn.Module):
    """A signal from a CQT magnitude, ``librosa.griffinlim_cqt``; see
    :func:`ddsp.spectral.functional.griffinlim_cqt` for the arguments (the forward CQT's
    :data:`INVERSE_ARGS` but ``gamma``, and ``pad_mode``, ``method``, ``init``).

    Shape:
        ``(..., n_bins, frames)`` -> ``(..., time)``.
    """

    def __init__(
        self,
        sample_rate: float = 22050,
        hop_length: int = 512,
        n_iter: int = 32,
        momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__()
        allowed = tuple(a for a in INVERSE_ARGS if a != "gamma") + ("pad_mode", "method", "init")
        _takes(type(self).__name__, kwargs, allowed)
        pad_mode_name(kwargs.get("pad_mode", "constant"))
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_iter, self.momentum, self.kwargs = n_iter, momentum, kwargs

    @full_precision
    def forward(
        self,
        magnitude: torch.Tensor,
        length: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return SF.griffinlim_cqt(
            magnitude, self.sample_rate, self.hop_length, self.n_iter, self.momentum,
            length=length, generator=generator, **self.kwargs,
        )  # fmt: skip
