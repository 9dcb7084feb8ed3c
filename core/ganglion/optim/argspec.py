"""Which keys a registered optimizer or scheduler takes, and their checked values.

A registered class may carry a ``params`` dataclass (its fields are the keys a config may set,
``'???'`` marking a required value); without one, the class's signature says what it takes.
:class:`ArgSpec` reads either and turns a config's keys into the keyword arguments of the
class, every mistake a :class:`~ganglion.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

from ganglion.errors import ConfigError, did_you_mean, omegaconf_error_message

__all__ = ["MISSING", "ArgSpec", "check_int"]

#: OmegaConf's marker of a required value, as a params dataclass or a config writes it.
MISSING = "???"


@dataclasses.dataclass
class ArgSpec:
    """The keys a registered class takes: from its params dataclass, else its signature."""

    #: the class's import path, for messages
    target: str
    #: key -> default (:data:`MISSING` when required)
    fields: dict[str, Any]
    params_cls: type | None
    #: the signature has ``**kwargs`` and no params dataclass narrows it
    accepts_any: bool
    #: what the class itself accepts, when its signature can be read
    signature_names: frozenset[str] | None

    @classmethod
    def of(cls, target: Any, params_cls: type | None, *, skip_first: bool) -> ArgSpec:
        """The spec of class ``target`` with its registered ``params_cls`` (or ``None``);
        ``skip_first`` leaves out the first positional argument (the parameters, or the
        optimizer of a scheduler)."""
        path = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
        sig_names: frozenset[str] | None = None
        var_kw = False
        sig_fields: dict[str, Any] = {}
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            params = list(sig.parameters.values())
            positional = (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            )
            if skip_first and params and params[0].kind in positional:
                params = params[1:]
            for p in params:
                if p.kind is inspect.Parameter.VAR_KEYWORD:
                    var_kw = True
                elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
                    empty = p.default is inspect.Parameter.empty
                    sig_fields[p.name] = MISSING if empty else p.default
            sig_names = frozenset(sig_fields)
        if params_cls is not None:
            if not dataclasses.is_dataclass(params_cls):
                raise ConfigError(
                    f"the params registered for {path} must be a dataclass, got {params_cls!r}"
                )
            fields = {}
            for f in dataclasses.fields(params_cls):
                if f.default is not dataclasses.MISSING:
                    fields[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    fields[f.name] = f.default_factory()
                else:
                    fields[f.name] = MISSING
            return cls(path, fields, params_cls, False, None if var_kw else sig_names)
        return cls(path, sig_fields, None, var_kw, None if var_kw else sig_names)

    def check_keys(self, given: Mapping[str, Any], *, key: str, what: str) -> None:
        """A :class:`ConfigError` for the first key of ``given`` the class does not take."""
        if self.accepts_any:
            return
        for name in given:
            if name not in self.fields:
                known = ", ".join(sorted(self.fields)) or "none"
                raise ConfigError(
                    f"Unknown key {name!r} ({key}.{name}): {what} does not take it."
                    f"{did_you_mean(name, self.fields)} Known: {known}."
                )

    def resolve(
        self, given: Mapping[str, Any], *, key: str, what: str, partial: bool = False
    ) -> dict[str, Any]:
        """Validated keyword arguments: defaults < ``given``; ``partial`` skips defaults and
        required checks (a param group's overrides)."""
        self.check_keys(given, key=key, what=what)
        values = dict(given) if partial else {**self.fields, **given}
        if self.params_cls is not None:
            values = self._typed(values, key=key, what=what, partial=partial)
        if not partial:
            for name, value in values.items():
                if isinstance(value, str) and value == MISSING:
                    raise ConfigError(
                        f"{key}.{name} is required by {what} and has no default; set it in the "
                        f"config or on the command line ({key}.{name}=...)"
                    )
        for name, value in list(values.items()):
            default = self.fields.get(name)
            if isinstance(default, tuple) and isinstance(value, list):
                if len(value) != len(default):
                    raise ConfigError(
                        f"{key}.{name} must have {len(default)} values (like {list(default)}), "
                        f"got {value!r}"
                    )
                values[name] = tuple(value)
        if self.signature_names is not None:
            # a params field this version of the class does not know: harmless at its
            # default (dropped), an error when the config sets it
            for name in list(values):
                if name not in self.signature_names:
                    if name in given and given[name] != self.fields.get(name):
                        raise ConfigError(
                            f"{key}.{name}: the installed {self.target} does not take {name!r}; "
                            "remove the key or upgrade the package that provides it"
                        )
                    del values[name]
        return values

    def _typed(
        self, values: dict[str, Any], *, key: str, what: str, partial: bool
    ) -> dict[str, Any]:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        assert self.params_cls is not None
        schema = OmegaConf.structured(self.params_cls)
        try:
            merged = OmegaConf.merge(schema, values)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{omegaconf_error_message(exc, key)} (for {what})") from None
        out = OmegaConf.to_container(merged, resolve=True, throw_on_missing=False)
        assert isinstance(out, dict)
        return {k: out[k] for k in values} if partial else out


def check_int(value: Any, key: str, *, minimum: int) -> None:
    """A :class:`ConfigError` naming ``key`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")
