"""The function that ``@typecheck()`` puts in place of a method: a plain closure.

It takes ``(self, *args, **kwargs)``, checks each input port's value (found by position or
by keyword from the method's :class:`~ganglion.typechecking.plan.Layout`), calls the method,
then checks and tags the outputs. The common case, a plain tensor on a tensor port, is
checked inline (one class test, one attribute read, one set lookup when the tensor carries a
type): this runs on every forward, and each Python call avoided saves about 0.1 µs. Every
other case (lists, ``None``, subclasses, errors) goes through :mod:`.checks`. Loops index
their tuples rather than ``zip`` them, and a default left out of a positional call is read
without raising and catching a ``KeyError``, for the same reason.

A call by keyword costs about 0.2 µs more than one by position: Python builds a ``**kwargs``
dict for the wrapper and unpacks it again for the method. Only a wrapper with the method's
own parameter names would avoid that, and that means generating code, which this project
does not do.

The wrapper shows the method's signature (``__signature__`` and ``__wrapped__``), so
``inspect.signature``, ``torch.export`` and ONNX export name the inputs as the method does.
Under ``torch.compile``/``torch.export`` it only calls the method: the traced graph is the
plain module's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.compiler import is_compiling

from ganglion.typechecking.checks import (
    check_extra,
    check_input,
    check_output,
    check_outputs,
    check_sizes,
)
from ganglion.typechecking.messages import fail_rank
from ganglion.typechecking.plan import MISSING, PLAN_PREFIX, Layout, build_plan
from ganglion.typechecking.switch import CHECKS_ENABLED

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.typechecking.decorator import typecheck

__all__ = ["wrap"]

_SELF_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def wrap(fn: Callable[..., Any], deco: typecheck) -> Callable[..., Any]:
    """A function with ``fn``'s signature that checks its ports and calls ``fn``."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if not params or params[0].kind not in _SELF_KINDS:
        raise TypeError(
            f"@typecheck() decorates methods; {fn.__qualname__} has no 'self' parameter"
        )
    layout = Layout.of(params[1:])
    method = fn.__name__
    attr = PLAN_PREFIX + fn.__qualname__
    # bound once: each is a local (closure) read on the hot path, not a global lookup
    enabled = CHECKS_ENABLED.get
    tensor = torch.Tensor
    missing = MISSING

    # (*args, **kwargs) with ``self`` in args: the call's tuple goes on to fn as it is (a
    # ``self`` parameter of its own would make Python build a new tuple for the call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_compiling() or not enabled():  # compiling first: dynamo folds it
            return fn(*args, **kwargs) if kwargs else fn(*args)
        try:
            self = args[0]
            plan = self.__dict__[attr]
        except IndexError:  # no self: calling fn reports it, as Python does
            return fn(**kwargs)
        except KeyError:
            plan = None  # built below: an error in the ports is not raised "during" this one
        except AttributeError:  # an object without __dict__: no cache, still checked
            plan = build_plan(self, method, deco, layout)
        if plan is None:
            plan = self.__dict__[attr] = build_plan(self, method, deco, layout)

        n_args = len(args)
        for index, keyword, default, plain, declared, accepted, rank, sizes, port in plan.inputs:
            if index < n_args:
                value = args[index]
            elif kwargs:
                try:
                    value = kwargs[keyword]  # None for a positional-only: a KeyError
                except KeyError:
                    value = default
                    if value is missing:
                        continue  # not passed: calling fn reports it, as Python does
            else:  # no exception raised and caught for a default left out of a call
                value = default
                if value is missing:
                    continue
            if plain and value.__class__ is tensor:
                given = getattr(value, "neural_type", None)
                if given is None:
                    if rank is not None and value.ndim != rank:
                        fail_rank(plan, "input", port, value)
                elif given is not declared and given not in accepted:
                    check_input(plan, port, value)  # compares, remembers or raises
                if sizes:
                    check_sizes(plan, "input", port, value)
            else:
                check_input(plan, port, value)
        if plan.has_extra:
            check_extra(plan, args[1 + plan.n_positional :], kwargs)

        out = fn(*args, **kwargs) if kwargs else fn(*args)

        n_out = plan.n_out
        if n_out == 1 and out.__class__ is tensor:
            values: Any = (out,)
        elif n_out > 1 and out.__class__ is tuple and len(out) == n_out:
            values = out
        else:  # no output types, or lists, None, a wrong count: the general path
            if plan.outputs is not None:
                check_outputs(plan, out)
            return out
        # an index, not zip(): a zip object per call costs more than the checks it feeds
        i = 0
        for plain, declared, rank, sizes, port in plan.fast_out:
            value = values[i]
            i += 1  # noqa: SIM113  (enumerate() is the slower builtin this avoids)
            if plain and value.__class__ is tensor:
                if rank is not None and value.ndim != rank:
                    fail_rank(plan, "output", port, value)
                if sizes:
                    check_sizes(plan, "output", port, value)
                given = getattr(value, "neural_type", None)
                if given is not declared:
                    if given is None:
                        value.neural_type = declared
                    else:
                        check_output(plan, port, value)
            else:
                check_output(plan, port, value)
        return out

    functools.update_wrapper(wrapper, fn)
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    return wrapper
