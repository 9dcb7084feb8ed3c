"""Parameter groups: which of a model's parameters get which optimizer options.

``model.optim.param_groups`` is a list of entries, first match wins::

    param_groups:
      - match: ["*.bias"]           # glob(s) on parameter names (model.named_parameters())
        module_types: [LayerNorm]   # and/or the class of the module owning the parameter
        weight_decay: 0.0           # every other key is an option of the chosen optimizer

Parameters with ``requires_grad=False`` are left out; an entry takes the parameters whose
name matches one of its ``match`` globs or whose owning module is (a subclass of) one of its
``module_types``, unless an earlier entry took them; an entry that takes nothing is an error
(a typo would otherwise change nothing). Parameters no entry takes form the first group, with
the top-level options.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from ganglion.errors import ConfigError
from ganglion.optim.argspec import ArgSpec

__all__ = ["GROUP_SELECTORS", "param_groups"]

#: Keys of one ``param_groups`` entry that select parameters (the rest are optimizer options).
GROUP_SELECTORS = ("match", "module_types")


def param_groups(
    params_or_model: Any, groups_cfg: Any, spec: ArgSpec, *, key: str, what: str
) -> list[Any]:
    """What to hand the optimizer: the model's trainable parameters split by ``groups_cfg``
    (``model.optim.param_groups``), or the given parameters / torch param-group dicts with
    their options checked against ``spec``.

    Raises:
        ConfigError: no parameters, a group that selects nothing, ``param_groups`` with bare
            parameters (names are needed), an option the optimizer does not take.
    """
    import torch

    if not isinstance(params_or_model, torch.nn.Module):
        if isinstance(params_or_model, torch.Tensor):
            params_or_model = [params_or_model]
        return _given_groups(list(params_or_model), groups_cfg, spec, key=key, what=what)

    model = params_or_model
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ConfigError(f"{key}: the model has no trainable parameters for {what}")
    if not groups_cfg:
        return [p for _, p in named]
    if not isinstance(groups_cfg, Sequence) or isinstance(groups_cfg, (str, bytes)):
        raise ConfigError(
            f"{key}.param_groups must be a list of groups, each with 'match' and/or "
            f"'module_types' and the options to set, got {groups_cfg!r}"
        )

    owners = _owner_types(model)
    claimed: dict[str, int] = {}
    groups: list[dict[str, Any]] = []
    for i, group in enumerate(groups_cfg):
        gkey = f"{key}.param_groups[{i}]"
        if not isinstance(group, Mapping):
            raise ConfigError(f"{gkey} must be a mapping, got {group!r}")
        patterns = _str_list(group.get("match"), f"{gkey}.match")
        types = _str_list(group.get("module_types"), f"{gkey}.module_types")
        if not patterns and not types:
            raise ConfigError(
                f"{gkey} selects no parameters: give 'match' (globs on parameter names such as "
                "'*.bias') and/or 'module_types' (module class names such as LayerNorm)"
            )
        options = {k: v for k, v in group.items() if k not in GROUP_SELECTORS}
        resolved = spec.resolve(options, key=gkey, what=what, partial=True)
        selected = []
        for pname, param in named:
            if pname in claimed:
                continue
            hit = any(fnmatch.fnmatchcase(pname, pat) for pat in patterns) or bool(
                types and owners.get(pname, set()) & set(types)
            )
            if hit:
                claimed[pname] = i
                selected.append(param)
        if not selected:
            sample = ", ".join(n for n, _ in named[:8]) + (", ..." if len(named) > 8 else "")
            raise ConfigError(
                f"{gkey} matches no trainable parameter not already taken by an earlier group "
                f"(match={patterns}, module_types={types}). Parameter names look like: {sample}"
            )
        groups.append({"params": selected, **resolved})
    rest = [p for n, p in named if n not in claimed]
    if rest:
        groups.insert(0, {"params": rest})  # the default group keeps the top-level options
    return groups


def _given_groups(
    items: list[Any], groups_cfg: Any, spec: ArgSpec, *, key: str, what: str
) -> list[Any]:
    """Bare parameters or torch param-group dicts, their options checked."""
    if groups_cfg:
        raise ConfigError(
            f"{key}.param_groups selects parameters by name, but the optimizer was given "
            "bare parameters; pass the model itself to build the optimizer"
        )
    if not items:
        raise ConfigError(f"{key}: {what} was given no parameters to optimize")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            if "params" not in item:
                raise ConfigError(f"{key}.param_groups[{i}] has no 'params' (its tensors)")
            options = {k: v for k, v in item.items() if k != "params"}
            resolved = spec.resolve(
                options, key=f"{key}.param_groups[{i}]", what=what, partial=True
            )
            out.append({"params": item["params"], **resolved})
        else:
            out.append(item)
    return out


def _owner_types(model: Any) -> dict[str, set[str]]:
    """Parameter name -> class names (with bases) of the module that owns it directly."""
    out: dict[str, set[str]] = {}
    for mname, module in model.named_modules():
        names = {c.__name__ for c in type(module).__mro__}
        for pname, _ in module.named_parameters(recurse=False):
            out[f"{mname}.{pname}" if mname else pname] = names
    return out


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{key} must be a string or a list of strings, got {value!r}")
