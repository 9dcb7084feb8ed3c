"""Optimizer presets: the seed documentation's ``model.optim=adam`` on a command line.

Hydra reads ``a.b=x`` as "set the value ``a.b``"; the seed's ``model.optim=adam`` means "use
the ``adam`` preset of the ``model/optim`` config group" (``conf/model/optim/adam.yaml`` in the
core or any plugin's ``register_configs`` directory). The preset *replaces* the optimizer
settings of the config (its previous keys are dropped), all but those :data:`KEEP_ON_PRESET`
names (``sched``: a schedule applies to any optimizer), and keys set on the same command line
(``model.optim.lr=.0004``) apply on top. The Hydra form ``model/optim=adam`` keeps Hydra's own
meaning (merge the preset into the config).

This one module implements it for both ``ganglion train`` and :func:`compose_optim_config`:

1. :func:`rewrite_preset_overrides` turns ``model.optim=adam`` into ``model/optim=adam``;
2. :meth:`PresetChoices.probe` learns which keys each chosen preset sets;
3. after Hydra composed the config, :meth:`PresetChoices.apply` drops the keys the preset
   replaced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ganglion.conf.overrides import parse_overrides, sweep_values
from ganglion.conf.sources import CORE_CONFIGS_SEARCH_PATH
from ganglion.errors import ConfigError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from omegaconf import DictConfig

__all__ = [
    "CORE_CONFIGS_SEARCH_PATH",
    "KEEP_ON_PRESET",
    "OPTIM_GROUP",
    "PresetChoices",
    "compose_optim_config",
    "is_plain_name",
    "rewrite_preset_overrides",
]

#: The config group of optimizer presets.
OPTIM_GROUP = "model/optim"
#: Config group -> the keys a preset chosen with the dotted form (``model.optim=adam``) keeps
#: from the config it replaces: a schedule applies to any optimizer.
KEEP_ON_PRESET: dict[str, tuple[str, ...]] = {OPTIM_GROUP: ("sched",)}

#: Group path -> its options (a mapping), or a function giving them (empty: not a group).
GroupOptions = Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]]


def is_plain_name(value: str) -> bool:
    """Whether ``value`` can name a preset (letters, digits, ``_`` and ``-``)."""
    return bool(value) and all(c.isalnum() or c in "_-" for c in value)


def rewrite_preset_overrides(
    overrides: Sequence[str], group_options: GroupOptions
) -> tuple[list[str], frozenset[str]]:
    """``model.optim=adam`` -> Hydra's group override ``model/optim=adam``.

    An override ``a.b=x`` (or ``+a.b=x``, or a sweep ``a.b=x,y``) is rewritten when ``a/b`` is
    a config group (``group_options`` gives its options) and every value a plain name; a plain
    name that is not an option is an error listing the options. Anything else passes through.
    Returns the new list and the groups chosen this way (whose presets replace, see
    :class:`PresetChoices`).

    Example::

        >>> rewrite_preset_overrides(["model.optim=adam", "model.optim.lr=1"],
        ...                          {"model/optim": ["adam", "sgd"]})
        (['model/optim=adam', 'model.optim.lr=1'], frozenset({'model/optim'}))
    """
    if isinstance(group_options, Mapping):
        options_of: Callable[[str], Iterable[str]] = lambda g: group_options.get(g, ())  # noqa: E731
    else:
        options_of = group_options
    known: dict[str, list[str]] = {}
    out: list[str] = []
    groups: set[str] = set()
    for text, override in zip(overrides, parse_overrides(overrides)):
        key = override.key_or_group
        values = sweep_values(override)
        if (
            "." not in key
            or key.startswith("hydra.")
            or override.package is not None
            or not (values and all(is_plain_name(v) for v in values))
        ):
            out.append(text)
            continue
        group = key.replace(".", "/")
        if group not in known:
            known[group] = sorted(options_of(group) or ())
        options = known[group]
        if not options:
            out.append(text)
            continue
        for value in values:
            if value not in options:
                raise ConfigError(
                    f"{key}={value}: no preset {value!r} in config group {group}."
                    f"{did_you_mean(value, options)} Known: {', '.join(options)}."
                )
        lhs, _, value_text = text.partition("=")
        prefix = lhs[: len(lhs) - len(lhs.lstrip("+~"))]
        out.append(f"{prefix}{group}={value_text}")
        groups.add(group)
    return out, frozenset(groups)


@dataclasses.dataclass(frozen=True)
class PresetChoices:
    """The presets a command line chose with the dotted form, and the keys each one sets."""

    #: groups chosen with the dotted form (``model/optim``)
    groups: frozenset[str] = frozenset()
    #: ``(group, option)`` -> the keys that preset sets
    keys: Mapping[tuple[str, str], frozenset[str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def probe(
        cls, overrides: Sequence[str], groups: frozenset[str], *, probe_config: str
    ) -> PresetChoices:
        """Compose each preset that ``overrides`` (already rewritten) choose for ``groups``
        alone, on the config ``probe_config`` (which holds only the search path), to learn
        its keys. Runs inside a Hydra context."""
        from hydra import compose
        from omegaconf import DictConfig, OmegaConf

        keys: dict[tuple[str, str], frozenset[str]] = {}
        for override in parse_overrides(overrides):
            group = override.key_or_group
            if group not in groups:
                continue
            for option in sweep_values(override):
                cfg = compose(config_name=probe_config, overrides=[f"+{group}={option}"])
                node = OmegaConf.select(cfg, group.replace("/", "."))
                keys[(group, option)] = (
                    frozenset(str(k) for k in node) if isinstance(node, DictConfig) else frozenset()
                )
        return cls(groups, keys)

    def apply(self, cfg: DictConfig, job_overrides: Sequence[str]) -> DictConfig:
        """Drop from ``cfg`` (composed with ``job_overrides``, one job's) the keys a preset
        replaced: those the preset does not set, the command line does not set and the group
        does not keep (:data:`KEEP_ON_PRESET`). Returns ``cfg``, changed in place."""
        if not self.groups:
            return cfg
        from omegaconf import DictConfig, OmegaConf, open_dict

        parsed = parse_overrides(job_overrides)
        chosen = {o.key_or_group: o.value() for o in parsed if o.key_or_group in self.groups}
        set_on_cli = {o.key_or_group for o in parsed if not o.is_delete()}
        for group, option in chosen.items():
            keys = self.keys.get((group, str(option)))
            package = group.replace("/", ".")
            node = OmegaConf.select(cfg, package)
            if keys is None or not isinstance(node, DictConfig):
                continue
            keep = set(KEEP_ON_PRESET.get(group, ()))
            with open_dict(cfg):
                for key in list(node.keys()):
                    if key not in keys and key not in keep and f"{package}.{key}" not in set_on_cli:
                        del node[key]
        return cfg


def compose_optim_config(
    overrides: Sequence[str] = (),
    *,
    base: Any = None,
    search_path: Sequence[str] | None = None,
) -> DictConfig:
    """Compose ``model.optim`` with Hydra, from a base node and command-line style overrides,
    the way ``ganglion train`` composes it.

    Args:
        overrides: e.g. ``["model.optim=adam", "model.optim.lr=.0004",
            "model.optim.betas=[.8,.5]"]``. ``model.optim=<preset>`` picks a preset of the
            ``model/optim`` config group; the other forms are Hydra's (``key=value``,
            ``+key=value``, ``~key``).
        base: the ``model.optim`` node of the model's config (mapping or ``DictConfig``), or
            ``None``. A preset replaces it, all but its ``sched``, which applies to any optimizer.
        search_path: Hydra config sources; by default every source registered through the
            ``register_configs`` hook (the core's ``pkg://ganglion.conf`` and the plugins').

    Returns:
        The composed ``model.optim`` node, ready for :func:`ganglion.optim.build_optimization`.

    Raises:
        ConfigError: an unknown preset or key, a value of the wrong type; or Hydra is already
            initialized (inside a Hydra application, whose own composition applies overrides).
    """
    from hydra import compose, initialize_config_module
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from ganglion.optim.building import optim_config_dict

    if GlobalHydra.instance().is_initialized():
        raise ConfigError(
            "compose_optim_config cannot run inside a Hydra application (Hydra is already "
            "initialized); there, the application's own composition applies the overrides"
        )
    if search_path is None:
        from ganglion.conf.sources import config_search_path

        search_path = config_search_path()
    base_node = {} if base is None else optim_config_dict(base, "model.optim")
    extra = [s for s in search_path if s != CORE_CONFIGS_SEARCH_PATH]
    hydra_node = {"searchpath": extra}

    # the configs live in Hydra's in-memory store under names of our own; plugins' config
    # sources join through hydra.searchpath, as in a primary config file
    primary, probe = "_ganglion_compose_optim", "_ganglion_compose_optim_probe"
    store = ConfigStore.instance()
    # _self_ first: a preset chosen on the command line is merged after the base it replaces
    primary_node = {"defaults": ["_self_"], "hydra": hydra_node, "model": {"optim": base_node}}
    store.store(name=primary, node=primary_node)
    store.store(name=probe, node={"hydra": hydra_node})
    with initialize_config_module("ganglion.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        rewritten, groups = rewrite_preset_overrides(
            overrides, lambda group: loader.get_group_options(group, config_name=probe)
        )
        try:
            choices = PresetChoices.probe(rewritten, groups, probe_config=probe)
            # the primary config has no defaults list: a group choice is an addition
            job = [
                f"+{o}" if o.partition("=")[0] in groups or o.startswith(f"{OPTIM_GROUP}=") else o
                for o in rewritten
            ]
            cfg = choices.apply(compose(config_name=primary, overrides=job), job)
        except (HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(f"cannot compose model.optim: {exc}") from None
    optim = OmegaConf.select(cfg, "model.optim")
    return optim if optim is not None else OmegaConf.create({})
