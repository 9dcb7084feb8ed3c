"""The catalogue of pretrained checkpoints that plugins publish as metadata of the models they
register (see :mod:`ganglion.pretrained`)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from ganglion.archive.format import SHA256_HEX
from ganglion.errors import GanglionError, UnknownNameError, did_you_mean
from ganglion.pretrained.download import URL_SCHEMES

__all__ = ["PretrainedModelInfo", "belongs_to", "find_pretrained", "list_pretrained"]


@dataclass(frozen=True)
class PretrainedModelInfo:
    """One pretrained checkpoint a plugin publishes.

    Attributes:
        name: the name ``from_pretrained`` takes (``"QuartzNet15x5Base-En"``).
        description: one line for listings.
        url: where the ``.ganglion`` archive is (``https://``, ``http://`` or ``file://``).
        sha256: the archive's sha256, checked after every download.
        model: the registered model name the checkpoint restores as.
        provider: who published the entry (plugin and distribution, or the catalogue file).
        size: the archive's size in bytes when the catalogue gives it (checked while
            downloading).
    """

    name: str
    description: str
    url: str
    sha256: str
    model: str
    provider: str
    size: int | None = None

    @property
    def pretrained_model_name(self) -> str:
        """The name, as NeMo calls it."""
        return self.name

    @property
    def location(self) -> str:
        """The URL, as NeMo calls it."""
        return self.url

    @property
    def class_(self) -> Any:
        """The registered model class the checkpoint restores as (imports it)."""
        from ganglion.plugins import registry

        return registry("models").resolve(self.model)


@dataclass(frozen=True)
class _CatalogueProblem:
    name: str | None
    model: str
    provider: str
    reason: str


def _parse_entries(entry: Any) -> tuple[list[PretrainedModelInfo], list[_CatalogueProblem]]:
    """The valid catalogue entries of one registered model, and what is wrong with the others."""
    raw = entry.metadata.get("pretrained")
    provider = str(entry.provider)
    if isinstance(raw, dict) or not isinstance(raw, (list, tuple)):
        return [], [
            _CatalogueProblem(None, entry.name, provider, "'pretrained' must be a list of dicts")
        ]
    good: list[PretrainedModelInfo] = []
    bad: list[_CatalogueProblem] = []
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        reason = _entry_problem(item)
        if reason:
            label = name if isinstance(name, str) else None
            bad.append(_CatalogueProblem(label, entry.name, provider, f"entry {i}: {reason}"))
            continue
        good.append(
            PretrainedModelInfo(
                name=item["name"],
                description=str(item.get("description", "")),
                url=item["url"],
                sha256=item["sha256"].lower(),
                model=entry.name,
                provider=provider,
            )
        )
    return good, bad


def _entry_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"expected a dict with name, description, url, sha256, got {item!r}"
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        return f"'name' must be a non-empty string, got {name!r}"
    url = item.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in URL_SCHEMES:
        return f"'url' must be an http://, https:// or file:// URL, got {url!r}"
    sha = item.get("sha256")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
        return f"'sha256' must be 64 hex digits, got {sha!r}"
    return None


def _catalogue(
    model_class: Any = None,
) -> tuple[list[PretrainedModelInfo], list[_CatalogueProblem]]:
    from ganglion.plugins import registry

    infos: list[PretrainedModelInfo] = []
    problems: list[_CatalogueProblem] = []
    for entry in registry("models"):
        if not entry.metadata.get("pretrained"):
            continue
        if model_class is not None and not belongs_to(entry, model_class):
            continue
        good, bad = _parse_entries(entry)
        infos.extend(good)
        problems.extend(bad)
    return infos, problems


def belongs_to(entry: Any, model_class: Any) -> bool:
    """Whether the registered model of ``entry`` is ``model_class`` or one of its subclasses."""
    from ganglion.registry import qualified_name

    if entry.target is model_class or entry.target_path == qualified_name(model_class):
        return True
    try:
        target = entry.load()
    except GanglionError:
        return False  # a plugin that fails to import cannot provide this class's checkpoints
    return isinstance(target, type) and issubclass(target, model_class)


def list_pretrained(model_class: Any = None) -> list[PretrainedModelInfo]:
    """Every catalogue entry, or those of ``model_class`` and its subclasses, sorted by name.

    Entries a plugin got wrong (no sha256, a bad URL) are left out with a warning that names the
    plugin and the model; asking for one of them by name raises the same explanation.
    """
    infos, problems = _catalogue(model_class)
    if problems:
        import warnings

        for p in problems:
            warnings.warn(
                f"pretrained catalogue of model '{p.model}' ({p.provider}): {p.reason}; "
                "the entry is ignored",
                stacklevel=2,
            )
    return sorted(infos, key=lambda i: i.name.lower())


def find_pretrained(name: str, model_class: Any = None) -> PretrainedModelInfo:
    """The catalogue entry called ``name`` (for ``model_class`` and its subclasses, if given).

    Raises:
        UnknownNameError: no such entry; lists close matches and every known name.
        GanglionError: the entry exists but is malformed, or two plugins publish the name.
    """
    infos, problems = _catalogue(model_class)
    hits = [i for i in infos if i.name == name]
    if len(hits) > 1:
        where = " and ".join(f"model '{i.model}' ({i.provider})" for i in hits)
        raise GanglionError(f"pretrained model {name!r} is published by both {where}")
    if hits:
        return hits[0]
    for p in problems:
        if p.name == name:
            raise GanglionError(
                f"pretrained model {name!r} of model '{p.model}' ({p.provider}) is malformed: "
                f"{p.reason}"
            )
    known = sorted(i.name for i in infos)
    scope = f" for {model_class.__name__}" if model_class is not None else ""
    raise UnknownNameError(
        f"Unknown pretrained model {name!r}{scope}.{did_you_mean(name, known)} "
        f"Known: {', '.join(known) or 'none'}. from_pretrained also takes a path to a "
        ".ganglion file or an http(s):// or file:// URL."
    )
