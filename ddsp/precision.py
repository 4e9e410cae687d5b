"""How every public call of the wings runs under ``torch.autocast`` and torch.func transforms
(a leaf: torch only): :func:`full_precision`, the decorator on each module's ``forward`` and on
each functional transform that takes signals.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import torch

__all__ = ["full_precision"]


_HALF = (torch.float16, torch.bfloat16)


def _tensors(tree):
    """The tensors in a call's arguments: top level, and one level into dicts, lists, tuples."""
    for a in tree:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, dict):
            yield from (v for v in a.values() if isinstance(v, torch.Tensor))
        elif isinstance(a, list | tuple):
            yield from (v for v in a if isinstance(v, torch.Tensor))


def _widen(a):
    """``a`` with its float16 / bfloat16 tensors (also those in a dict, list or tuple) in float32."""
    if isinstance(a, torch.Tensor):
        return a.float() if a.dtype in _HALF else a
    if isinstance(a, dict):
        return {k: _widen(v) if isinstance(v, torch.Tensor) else v for k, v in a.items()}
    if isinstance(a, list | tuple) and not hasattr(a, "_fields"):
        return type(a)(_widen(v) if isinstance(v, torch.Tensor) else v for v in a)
    return a


def _any_autocast() -> bool:
    """Whether autocast is on for any device; always True while torch.compile traces (its
    graphs then take the exact test below)."""
    if torch.compiler.is_compiling():
        return True
    return torch._C._is_any_autocast_enabled()


def _autocast_on(kind: str) -> bool:
    """Whether autocast is on for a device type (``meta`` and the like have none)."""
    return torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind)


_TRANSFORMS = threading.local()  # .inside: a wrapped call runs under a torch.func transform


def _transform_of(tensors) -> str | None:
    """``"vmap"`` or ``"grad"`` (grad, vjp, jacrev, jvp) for the first argument that a torch.func
    transform wrapped, else None."""
    for t in tensors:
        if torch._C._functorch.is_batchedtensor(t):
            return "vmap"
        if torch._C._functorch.is_gradtrackingtensor(t):
            return "grad"
    return None


def _refuse_transform(fn, transforms: tuple[str, ...], args, kwargs) -> None:
    """A clear error for a call under a torch.func transform that ``fn`` does not support (torch
    had raised "Batching rule not implemented for aten::mul.out", "Cannot access data pointer of
    Tensor that doesn't have storage" or "... must override the setup_context staticmethod")."""
    kind = _transform_of(_tensors((*args, *kwargs.values())))
    if kind is None or kind in transforms:
        return
    name = getattr(fn, "__name__", repr(fn))
    if name in ("forward", "__call__") and args:  # a method: the class the user called
        name = type(args[0]).__name__
    what = "torch.vmap" if kind == "vmap" else "torch.func's grad / vjp / jacrev / jvp"
    hint = (
        "it takes any leading batch dimensions itself: call it on the whole batch"
        if kind == "vmap"
        else "use torch.autograd (loss.backward(), torch.autograd.grad) for its gradients"
    )
    raise NotImplementedError(
        f"ddsp's {name} does not run under {what} (its kernels are custom autograd "
        f"functions and C++ passes); {hint}"
    )


def full_precision(fn=None, *, transforms: tuple[str, ...] = ()):
    """Run ``fn`` (a module's ``forward`` or a functional transform) as torch runs the ops on
    autocast's float32 list: inside a :func:`torch.autocast` region on its tensors' device,
    float16 / bfloat16 arguments (also inside a dict, list or tuple argument: a synthesiser's
    controls) are cast to float32 and ``fn`` runs with autocast off; elsewhere nothing changes
    (half-precision input is then refused by the callee, as before).

    Why: under Lightning's ``precision="bf16-mixed"`` / ``"16-mixed"`` the encoder's controls
    arrive in bfloat16 (the synthesisers refused them), and autocast lowered the matmuls and
    convolutions inside the DSP: with float32 inputs, GOLF's output moved by a relative 8e-3
    and its control gradients by up to 0.65 (max over elements, relative to the largest),
    LogMel / MFCC / gammatone returned bfloat16, and the CQT returned float32 computed in
    bfloat16 (3e-3 off) whenever its input needed a gradient. With this, a call inside autocast
    equals the same call outside it.

    ``transforms``: the torch.func transforms ``fn`` runs under (``"vmap"``, ``"grad"``: tested
    for each function that lists them); called directly under another one, it raises
    ``NotImplementedError`` naming itself and what to do instead. Calls it makes to other
    wrapped functions are not checked again. Use as ``@full_precision`` or
    ``@full_precision(transforms=("vmap", "grad"))``.
    """
    if fn is None:
        return functools.partial(full_precision, transforms=tuple(transforms))

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if torch.compiler.is_compiling() or torch._C._functorch.maybe_current_level() is None:
            return _in_float32(fn, args, kwargs)
        if getattr(_TRANSFORMS, "inside", False):  # called by a wrapped call: checked there
            return _in_float32(fn, args, kwargs)
        _refuse_transform(fn, transforms, args, kwargs)
        _TRANSFORMS.inside = True
        try:
            return _in_float32(fn, args, kwargs)
        finally:
            _TRANSFORMS.inside = False

    # a code object of its own per wrapped function: torch.compile caches frames by code
    # object, and one shared by every wrapper hit its recompile limit (8) and ran the rest
    # eagerly, with a warning
    run.__code__ = run.__code__.replace(co_name=fn.__name__)
    run.full_precision = True
    run.transforms = tuple(transforms)
    return run


def _in_float32(fn, args, kwargs):
    """``fn(*args, **kwargs)``, inside autocast with its half-precision arguments widened and
    autocast off (see :func:`full_precision`)."""
    if not _any_autocast():  # one C call (0.2 us) on the common path
        return fn(*args, **kwargs)
    kinds = {t.device.type for t in _tensors((*args, *kwargs.values()))}
    kinds = [k for k in kinds if _autocast_on(k)]
    if not kinds:
        return fn(*args, **kwargs)
    args = tuple(_widen(a) for a in args)
    kwargs = {k: _widen(v) for k, v in kwargs.items()}
    with contextlib.ExitStack() as off:
        for kind in kinds:
            off.enter_context(torch.autocast(kind, enabled=False))
        return fn(*args, **kwargs)
