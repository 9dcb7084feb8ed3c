"""Building a model for weights it is about to be given, without allocating or initialising
what they replace.

:func:`build_with_weights` builds a model from its constructor (a callable), checks what the
constructor builds against the shapes and dtypes of the weights *before* anything is
allocated, and gives the model the weights' tensors themselves
(``load_state_dict(assign=True)``: a mapped archive's tensors stay views of the file). It tries,
in turn:

1. **On the meta device** (``with torch.device("meta")``): every tensor the constructor makes
   has a shape and a dtype but no memory, and random initialisation costs nothing. The shapes
   are checked against the weights (so a config asking for 10^7 filters is refused before a
   byte is allocated), then the weights are assigned. Done, unless a tensor the weights do
   not replace is left without data (a tensor the constructor makes on a device it names,
   such as ``torch.tensor(x, device="cpu")``, keeps its values).
2. **Parameters on the meta device, everything else real**, when the model holds state the
   weights do not (a non-persistent buffer such as a mel filterbank or a positional table, a
   plain tensor attribute), or when the constructor cannot run on the meta device (it reads a
   value from a tensor it made: ``.item()``, ``.tolist()``). Parameters are moved to the meta
   device as they are registered (before any initialisation touches them), so buffers get the
   constructor's real values while parameters cost nothing. If the meta build failed, the
   shapes are checked after this one, before the weights are asked for: each parameter was only
   reserved (never written) until it was moved, and one too large to reserve fails the build
   with an :class:`~ganglion.archive.ArchiveError`. Kept if, once the weights are assigned,
   nothing is left on the meta device.
3. **The ordinary build**, random initialisation included: for parameters the weights lack (a
   lenient restore, ``strict=False``, keeps the constructor's own values) and for state
   computed from a parameter's initial value, which the earlier builds cannot give.

After the build that is kept, no parameter, buffer or tensor attribute is on the meta device
(:class:`~ganglion.archive.ArchiveError` names one otherwise): whichever way it was built, the
model is the one its constructor makes, with the weights in place.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import torch

from ganglion.archive import ArchiveError
from ganglion.errors import GanglionError

__all__ = ["TensorSpec", "build_with_weights", "check_fit", "meta_tensors"]

#: How many names an error lists before "and N more".
_LISTED = 8


class TensorSpec(NamedTuple):
    """A stored tensor's shape and dtype, as a weights header gives them without reading data."""

    shape: tuple[int, ...]
    dtype: torch.dtype


def build_with_weights(
    build: Callable[[], torch.nn.Module],
    specs: Mapping[str, TensorSpec],
    read: Callable[[], Mapping[str, torch.Tensor]],
    *,
    strict: bool = True,
    source: str = "the archive",
) -> torch.nn.Module:
    """The module ``build()`` makes, holding the tensors ``read()`` returns.

    Args:
        build: makes the module (called once or more, see the module docstring).
        specs: name -> :class:`TensorSpec` of every tensor ``read()`` will return (tied names
            included), checked against the module before ``read`` is called.
        read: returns the weights, name -> tensor; called once.
        strict: every parameter and persistent buffer must be in ``specs`` and every name
            in ``specs`` must be one of them; when false, missing ones keep the
            constructor's values and extra ones are ignored.
        source: where the weights come from, for error messages.

    Raises :class:`~ganglion.archive.ArchiveError` naming each tensor whose shape (or kind of
    dtype) differs, and each missing or unexpected one when ``strict``.
    """
    ways = [_on_meta_device, _parameters_on_meta, _ordinary]
    weights: Mapping[str, torch.Tensor] | None = None  # read once, after the first check
    model: torch.nn.Module | None = None
    error: Exception | None = None
    left: list[str] = []
    while ways:
        way = ways.pop(0)
        model, error = _attempt(build, way)
        if model is None:
            continue
        if weights is None:  # the first build that runs: checked before any weight is read
            state = check_fit(model, specs, strict=strict, source=source)
            weights = read()
        else:
            state = model.state_dict(keep_vars=True)
        _assign(model, weights, state, strict=strict, source=source)
        left = meta_tensors(model)
        if not left:  # every tensor the constructor left without data had a weight
            _forget_meta_device(model)
            return model
        if way is _on_meta_device and any(p.is_meta for p in model.parameters()):
            # a parameter the weights lack keeps its initial value, which only the ordinary
            # build gives; other state (a non-persistent buffer, a tensor attribute) the build
            # with parameters on meta gives too
            ways.remove(_parameters_on_meta)
    if model is None:
        raise ArchiveError(
            f"cannot build the model for the weights in {source}: {type(error).__name__}: {error}"
        ) from error
    raise ArchiveError(
        f"restoring {type(model).__name__} from {source} left {_names(left)} on the meta "
        "device (no data): its constructor puts them there; build them on a real device"
    )


def _forget_meta_device(model: torch.nn.Module) -> None:
    """Lightning modules remember the default device they were built under (``_device``, what
    ``.device`` answers); a build on the meta device left "meta" there. Point it at the device
    the weights are on."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    for module in model.modules():
        recorded = getattr(module, "_device", None)
        if isinstance(recorded, torch.device) and recorded.type == "meta":
            module._device = device


def check_fit(
    model: torch.nn.Module, specs: Mapping[str, TensorSpec], *, strict: bool, source: str
) -> dict[str, Any]:
    """Refuse (:class:`~ganglion.archive.ArchiveError`) weights that do not fit ``model``.

    Every parameter and persistent buffer (``model.state_dict()``) is compared with ``specs``:
    the shape must be the same, and the dtype too, except that one floating-point dtype may
    stand for another (the weights are cast to the model's, as ``load_state_dict`` would copy
    them). When ``strict``, a name on one side only is refused too. Reads no tensor data:
    ``model`` may be on the meta device. Returns the state dict checked (``keep_vars=True``).
    """
    state = model.state_dict(keep_vars=True)
    expected = {name: value for name, value in state.items() if isinstance(value, torch.Tensor)}
    wrong = []
    for name, tensor in expected.items():
        spec = specs.get(name)
        if spec is None:
            continue
        built, stored = tuple(tensor.shape), spec.shape
        if built != stored:
            wrong.append(f"{name!r} is {list(stored)} in the archive, {list(built)} in the model")
        elif tensor.dtype != spec.dtype and not (
            tensor.dtype.is_floating_point and spec.dtype.is_floating_point
        ):
            wrong.append(f"{name!r} is {spec.dtype} in the archive, {tensor.dtype} in the model")
    missing = [name for name in expected if name not in specs]
    unexpected = sorted(name for name in specs if name not in expected)
    problems = []
    if wrong:
        problems.append(
            "shapes or dtypes differ (was the config edited, or is it another model's?): "
            + _names(wrong, quote=False)
        )
    if strict and missing:
        problems.append(
            f"missing from the archive: {_names(missing)} (restore with strict=False to keep "
            "the model's own initial values)"
        )
    if strict and unexpected:
        problems.append(f"in the archive but not in the model: {_names(unexpected)}")
    if problems:
        raise ArchiveError(
            f"the weights in {source} do not fit {type(model).__name__}: " + "; ".join(problems)
        )
    return state


def meta_tensors(model: torch.nn.Module) -> list[str]:
    """Names of the parameters, buffers and plain tensor attributes of ``model`` that are on
    the meta device (hold no data)."""
    names = []
    # checked without names first: a restore asks on every model, which mostly has none
    if any(t.is_meta for t in model.parameters()):
        names += [name for name, t in _parameters(model) if t.is_meta]
    if any(t.is_meta for t in model.buffers()):
        names += [name for name, t in model.named_buffers(remove_duplicate=False) if t.is_meta]
    names += [name for name, t in _tensor_attributes(model) if t.is_meta]
    return names


# -- the ways to build ------------------------------------------------------------------------
def _on_meta_device() -> contextlib.AbstractContextManager[Any]:
    return torch.device("meta")


# True inside _parameters_on_meta(), in this thread or task only
_PARAMETERS_ON_META: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ganglion_parameters_on_meta", default=False
)


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    _install_parameter_hook()
    token = _PARAMETERS_ON_META.set(True)
    try:
        yield
    finally:
        _PARAMETERS_ON_META.reset(token)


def _ordinary() -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


def _parameter_to_meta(
    module: torch.nn.Module, name: str, param: torch.nn.Parameter | None
) -> torch.nn.Parameter | None:
    """Parameter registration hook: inside :func:`_parameters_on_meta`, a new parameter is
    replaced by one on the meta device (a tie re-registers a meta one: kept as is)."""
    if (
        not _PARAMETERS_ON_META.get()  # first: outside a restore, the hook does nothing
        or param is None
        or type(param) is not torch.nn.Parameter  # lazy or custom parameters: left alone
        or param.is_meta
    ):
        return None
    return torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)


@functools.cache
def _install_parameter_hook() -> None:
    # Registered once and never removed: the registry of global hooks is a plain dict that
    # other threads iterate while they register parameters, so adding and removing a hook on
    # each restore could break them. Outside _parameters_on_meta() the hook does nothing.
    torch.nn.modules.module.register_module_parameter_registration_hook(_parameter_to_meta)


def _attempt(
    build: Callable[[], torch.nn.Module], way: Any
) -> tuple[torch.nn.Module | None, Exception | None]:
    """``(build() inside way(), None)``, or ``(None, the error)`` when the constructor fails
    there, maybe for a reason of the device (an error of ganglion's, e.g. a bad config, is
    raised: building another way would meet it again)."""
    try:
        with way():
            return build(), None
    except GanglionError:
        raise
    except Exception as exc:  # e.g. "Tensor.item() cannot be called on meta tensors"
        return None, exc


# -- what the weights cover, assigning them -----------------------------------------------------
def _parameters(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Parameter]]:
    return model.named_parameters(remove_duplicate=False)


def _is_parameter(value: Any) -> bool:
    # the type first: isinstance(x, Parameter) runs a Python-level __instancecheck__
    return type(value) is torch.nn.Parameter or isinstance(value, torch.nn.Parameter)


def _tensor_attributes(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Tensors held as plain attributes (neither parameters nor buffers)."""
    is_tensor = torch.Tensor.__instancecheck__  # isinstance(x, torch.Tensor), for map()
    found = []
    for prefix, module in model.named_modules(remove_duplicate=False):
        attributes = vars(module)
        # scanned in C first: every module has some thirty attributes, seldom a tensor
        if any(map(is_tensor, attributes.values())):
            for attr, value in attributes.items():
                if is_tensor(value):
                    found.append(((f"{prefix}.{attr}" if prefix else attr), value))
    return found


def _assign(
    model: torch.nn.Module,
    weights: Mapping[str, torch.Tensor],
    current: Mapping[str, Any],
    *,
    strict: bool,
    source: str,
) -> None:
    """Give ``model`` the tensors of ``weights`` themselves (``load_state_dict(assign=True)``).

    Each tensor is wrapped in one parameter per parameter of the model, and every name of a
    tied parameter (one parameter under two names) gets that same wrapper, so ties stay tied
    whether or not the weights list the tie. A tensor of another floating-point dtype than the
    model's (in ``current``, its state dict with ``keep_vars=True``: parameters as such, tied
    ones under each name) is cast, as ``load_state_dict`` would copy it.
    """
    groups: dict[int, list[str]] = {}
    params: dict[str, torch.nn.Parameter] = {}
    for name, value in current.items():
        if _is_parameter(value):
            params[name] = value
            groups.setdefault(id(value), []).append(name)
    state: dict[str, Any] = {}
    wrapped: dict[int, torch.nn.Parameter] = {}
    for name, tensor in weights.items():
        target = current.get(name)
        if isinstance(target, torch.Tensor) and tensor.dtype != target.dtype:
            tensor = tensor.to(target.dtype)
        param = params.get(name)
        if param is None:
            state[name] = tensor
            continue
        key = id(param)
        if key not in wrapped:
            wrapped[key] = torch.nn.Parameter(tensor, requires_grad=param.requires_grad)
        state[name] = wrapped[key]
    for names in groups.values():  # a tie the weights do not record: one tensor for all
        if len(names) > 1:
            present = [n for n in names if n in state]
            if present:
                for n in names:
                    state[n] = state[present[0]]
    try:
        model.load_state_dict(state, strict=strict, assign=True)
    except RuntimeError as exc:
        raise ArchiveError(
            f"the weights in {source} do not fit {type(model).__name__}: {exc}"
        ) from exc


def _names(names: list[str], *, quote: bool = True) -> str:
    shown = [repr(n) if quote else n for n in names[:_LISTED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
