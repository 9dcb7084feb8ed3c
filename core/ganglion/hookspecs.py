"""The plugin-author contract: every hook a ganglion plugin may implement.

A plugin is a module (usually named in a distribution's ``[project.entry-points.ganglion]``
table) holding functions decorated with :data:`hookimpl` whose names are the hooks below.
ganglion calls each hook once per plugin, the first time something of that kind is needed,
passing a ``register`` callback::

    register(name: str, target: object | str, **metadata) -> None

``target`` is the object itself or a lazy ``"package.module:attribute"`` string. Lazy strings
are imported on first use only, so listing plugins (``ganglion plugins``) never imports
torch or anything else heavy: keep the plugin module itself light.

Rules every hook shares:

* a name registered by two plugins is a conflict: both are listed (marked ``!`` by
  ``ganglion list KIND`` and ``ganglion plugins``) and using the name is an error naming
  both, until one is uninstalled or disabled (pass ``override=True`` to replace a name on
  purpose);
* an exception raised inside a hook, or while importing the plugin module (``sys.exit()``
  included; only ``KeyboardInterrupt`` stops the host), marks that plugin as failed: its
  registrations are dropped, the listing shows the error, and other plugins keep working;
* ``metadata`` is free-form keyword data stored with the entry and shown by
  ``ganglion list KIND --json``; each hook documents the keys ganglion itself reads.

Example (a whole plugin)::

    # ganglion_lion/plugin.py
    from ganglion import hookimpl

    @hookimpl
    def register_optimizers(register):
        register("lion", "ganglion_lion.lion:Lion", params="ganglion_lion.lion:LionParams")
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

PROJECT_NAME = "ganglion"

#: Marks a function in a plugin module as the implementation of a hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


class RegisterCallback(Protocol):
    """The callback every ``register_*`` hook receives."""

    def __call__(self, name: str, target: Any, /, **metadata: Any) -> None: ...


@hookspec
def register_modules(register: RegisterCallback) -> None:
    """Register neural modules (``NeuralModule`` subclasses) by name.

    Called the first time a module is looked up by name (a config's ``_target_`` naming a
    registered module, ``ganglion list modules``). Registered names may be used in place of an
    import path in configs, and only registered or installed-plugin classes may be built from a
    restored archive.

    Example::

        @hookimpl
        def register_modules(register):
            register("ConvASREncoder", "ganglion_asr.modules:ConvASREncoder")
    """


@hookspec
def register_models(register: RegisterCallback) -> None:
    """Register models (``ModelPT`` subclasses) by name.

    Called when a model is looked up by name: by ``ganglion train`` for the config's model, by
    ``ModelPT.restore_from`` for the class named in an archive. Metadata ganglion reads:
    ``pretrained`` — a list of catalogue entries (dicts with ``name``, ``description``,
    ``url``, ``sha256``) for ``Model.list_available_models()`` / ``from_pretrained``.

    Example::

        @hookimpl
        def register_models(register):
            register("EncDecCTCModel", "ganglion_asr.models:EncDecCTCModel")
    """


@hookspec
def register_element_types(register: RegisterCallback) -> None:
    """Register element types (``ElementType`` subclasses) by name.

    Called when a neural type is parsed from text (``"B,T:AudioSignal"`` in a config or a
    serialized graph) or listed. Domain types belong to their plugin, not the core. Metadata
    ganglion reads: ``axis_kinds`` — the axis kinds (names and short tokens) that the
    target's module adds with ``AxisKind.add``; text naming one of them imports that module.

    Example::

        @hookimpl
        def register_element_types(register):
            register("AudioSignal", "ganglion_asr.types:AudioSignal")
    """


@hookspec
def register_optimizers(register: RegisterCallback) -> None:
    """Register optimizers (``torch.optim.Optimizer`` subclasses) by name.

    Called when ``model.optim.name`` is resolved or optimizers are listed. Metadata ganglion
    reads: ``params`` — a dataclass (or lazy string) describing the optimizer's arguments,
    where a default of ``'???'`` marks a required value.

    Example::

        @hookimpl
        def register_optimizers(register):
            register("lion", "ganglion_lion.lion:Lion", params="ganglion_lion.lion:LionParams")
    """


@hookspec
def register_schedulers(register: RegisterCallback) -> None:
    """Register learning-rate schedulers by name.

    Called when ``model.optim.sched.name`` is resolved or schedulers are listed. Metadata
    ganglion reads: ``params`` — the scheduler's argument dataclass, as for optimizers.

    Example::

        @hookimpl
        def register_schedulers(register):
            register("CosineAnnealing", "ganglion_optim.schedulers:CosineAnnealing",
                     params="ganglion_optim.schedulers:CosineAnnealingParams")
    """


@hookspec
def register_losses(register: RegisterCallback) -> None:
    """Register loss modules by name.

    Called when a loss is looked up by name from a config or listed.

    Example::

        @hookimpl
        def register_losses(register):
            register("CTCLoss", "ganglion_asr.losses:CTCLoss")
    """


@hookspec
def register_artifact_handlers(register: RegisterCallback) -> None:
    """Register handlers that pack and unpack model-archive artifacts of one kind.

    Called when a model is saved with ``save_to`` or restored with ``restore_from``. The core
    registers ``file`` and ``directory``; plugins add theirs (a tokenizer, say). A handler is a
    :class:`ganglion.archive.ArtifactHandler` (class or instance): it lists the files an
    artifact is made of and says what ``register_artifact`` returns once they are unpacked;
    models choose it with ``register_artifact(config_path, src, handler="name")``.

    Example::

        @hookimpl
        def register_artifact_handlers(register):
            register("sentencepiece", "ganglion_nlp.artifacts:SentencePieceHandler")
    """


@hookspec
def register_configs(register: RegisterCallback) -> None:
    """Register Hydra config directories that ship inside the plugin's package.

    Called when ``ganglion train`` builds Hydra's search path. ``target`` is a Hydra search
    path entry: ``"pkg://package.subpackage"`` (preferred: it works from wheels and zips)
    or ``"file:///abs/dir"``. Configs found there are usable as
    ``ganglion train --config-name NAME``. ``target`` may also be a structured config: a
    dataclass (or a lazy ``"module:Dataclass"`` string, or a mapping), stored in Hydra's
    ConfigStore under ``name`` — usable as ``--config-name name`` and extendable by a YAML's
    ``defaults`` list (precedence: command line > YAML > dataclass).

    Example::

        @hookimpl
        def register_configs(register):
            register("asr", "pkg://ganglion_asr.conf")
    """


@hookspec
def register_pretrained(register: RegisterCallback) -> None:
    """Register catalogues of pretrained checkpoints (YAML or JSON files) by name.

    Called the first time pretrained models are listed or looked up by name
    (``Model.list_available_models()``, ``Model.from_pretrained("name")``). ``target`` is the
    catalogue: a local path (``str`` or ``Path``) or an ``http(s)://`` / ``file://`` URL. It
    is read only then, and reading it imports nothing. The file is a list of entries with
    ``name``, ``class`` (a registered model name), ``description``, ``location`` (a URL, or a
    path relative to the catalogue), ``sha256`` and ``size``; see :mod:`ganglion.pretrained.catalogue_files`.

    Example::

        @hookimpl
        def register_pretrained(register):
            from pathlib import Path

            register("asr", str(Path(__file__).with_name("pretrained.yaml")))
    """


#: Hook name -> registry kind, in the order listings show them.
HOOK_KINDS: dict[str, str] = {
    "register_modules": "modules",
    "register_models": "models",
    "register_element_types": "element_types",
    "register_optimizers": "optimizers",
    "register_schedulers": "schedulers",
    "register_losses": "losses",
    "register_artifact_handlers": "artifact_handlers",
    "register_configs": "configs",
    "register_pretrained": "pretrained",
}

#: Registry kind -> hook name.
KIND_HOOKS: dict[str, str] = {kind: hook for hook, kind in HOOK_KINDS.items()}
