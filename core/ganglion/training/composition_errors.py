"""Hydra's and YAML's composition errors, as one sentence that names the key or the file.

``trainer.max_epoch=3`` -> "Unknown key trainer.max_epoch: not among pytorch_lightning.Trainer's
arguments. Did you mean 'max_epochs'?"; a YAML syntax error -> the file, line and column.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ganglion.errors import GanglionError, did_you_mean
from ganglion.training.trainer_args import trainer_parameters, type_name

__all__ = ["composition_message", "undecodable_message"]

#: OmegaConf's names of value types -> Python's
_OMEGACONF_TYPES = {"Integer": "int", "Float": "float", "Boolean": "bool", "String": "str"}


def undecodable_message(exc: UnicodeDecodeError, config_dir: str) -> str:
    """A config file that is not UTF-8 text: Hydra's reader says only which byte, so the
    YAML files of ``config_dir`` (``--config-path``) are read to name the file."""
    where = f"byte {exc.start}" + (f" (0x{exc.object[exc.start]:02x})" if exc.object else "")
    folder = Path(config_dir.removeprefix("file://"))
    bad = []
    if folder.is_dir():
        for path in sorted(folder.rglob("*.y*ml")):
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                bad.append(str(path))
            except OSError:
                continue
    if bad:
        return f"{', '.join(bad)}: not UTF-8 text ({where}); save it as UTF-8 YAML."
    return f"a config file is not UTF-8 text ({where}: {exc.reason}); save it as UTF-8 YAML."


def composition_message(
    exc: Exception, config_name: str | None, overrides: list[str], *, primary: str
) -> str:
    """A Hydra/OmegaConf composition error as one sentence naming the key (and, for an
    unknown key, the closest known one; for a bad value, the type expected). ``primary`` is
    the name of the primary config that was composed (to list the keys beside an unknown one)."""
    cause = exc.__cause__ or exc.__context__
    text = str(exc)
    detail = str(cause) if cause is not None else ""
    full_key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
    missing = re.search(r"Could not (?:override|append to|delete from) '([^']+)'", text)
    if missing and re.search(r"not in struct|not in '|Key '[^']*' not|not found", detail + text):
        return _unknown_key_message(missing.group(1).lstrip("+~"), overrides, primary)
    converted = re.search(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", detail)
    if converted and full_key:
        value, given, expected = converted.groups()
        if str(full_key).startswith("trainer."):
            annotation = trainer_parameters().get(str(full_key).split(".", 1)[1])
            if annotation is not None:
                expected = type_name(annotation)
        expected = _OMEGACONF_TYPES.get(expected, expected)
        return f"{full_key}: expected {expected}, got {value!r} ({given})"
    if "Cannot find primary config" in text or (
        "Could not load" in text and config_name and config_name in text
    ):
        return (
            f"--config-name {config_name}: no such config in --config-path, the core's configs or "
            f"any installed plugin's configs ({text.strip().splitlines()[0]})"
        )
    merged_list = re.search(r"In '([^']+)'.*Cannot merge DictConfig with ListConfig", text, re.S)
    if merged_list:
        return (
            f"config '{merged_list.group(1)}' is a YAML list; a training config is a mapping "
            "(trainer:, exp_manager:, model:)"
        )
    lines = [line.strip() for line in (text + "\n" + detail).splitlines() if line.strip()]
    reason = " ".join(dict.fromkeys(lines))
    if full_key:
        return f"{full_key}: {reason}"
    return f"cannot compose the config: {reason}"


def _unknown_key_message(key: str, overrides: list[str], primary: str) -> str:
    """'Unknown key trainer.max_epoch … Did you mean max_epochs?', with the candidates the
    section really accepts (Trainer arguments, optimizer params, dataclass fields, or the
    keys beside it in the composed config)."""
    parent, _, leaf = key.rpartition(".")
    candidates: list[str] = []
    what = f"'{parent}'" if parent else "the config"
    if parent == "trainer":
        candidates = list(trainer_parameters())
        what = "pytorch_lightning.Trainer's arguments"
    elif parent in ("exp_manager", "exp_manager.checkpoint_callback_params"):
        from ganglion.conf.schema import CheckpointCallbackParams, ExpManagerConfig

        schema = ExpManagerConfig if parent == "exp_manager" else CheckpointCallbackParams
        candidates = [f.name for f in dataclasses.fields(schema)]
    else:
        # compose without the offending override to see what the section holds
        rest = [o for o in overrides if o.partition("=")[0].lstrip("+~") != key]
        with contextlib.suppress(Exception):
            from hydra import compose

            cfg = compose(config_name=primary, overrides=rest)
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if isinstance(node, DictConfig):
                candidates = [str(k) for k in node]
            if parent in ("model.optim", "model.optim.sched") and isinstance(node, DictConfig):
                candidates = sorted(set(candidates) | _optim_keys(node, parent))
                what = f"'{parent}' (the keys its {parent.rsplit('.', 1)[-1]} takes)"
    hint = did_you_mean(leaf, candidates)
    add = f" To add a new key on purpose use +{key}=..."
    return f"Unknown key {key}: not among {what}.{hint}{add}"


def _optim_keys(node: DictConfig, parent: str) -> set[str]:
    """The keys ``model.optim`` (or its ``sched``) may have with the optimizer (scheduler) it
    names."""
    from ganglion import optim

    name = node.get("name")
    keys: set[str] = set()
    if not isinstance(name, str):
        return keys
    with contextlib.suppress(GanglionError):
        if parent == "model.optim":
            params = optim.optimizer_params(name)
            keys |= set(optim.OPTIM_KEYS)
        else:
            params = optim.scheduler_params(name)
            keys |= set(optim.SCHED_KEYS)
        if params is not None:
            keys |= {f.name for f in dataclasses.fields(params)}
    return keys
