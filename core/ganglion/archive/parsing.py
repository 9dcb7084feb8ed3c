"""Reading the archive's JSON and YAML members, which are untrusted: duplicate keys, YAML
aliases and nesting deeper than :data:`MAX_NESTING` are refused, and every failure is a
refusal naming the archive and the member.

The nesting limit keeps a hostile member (``[[[[...]]]]`` a hundred thousand deep) from
reaching Python's recursion limit, in the parsers or in the code that walks the result: it is
an :class:`~ganglion.archive.errors.ArchiveError`, never a ``RecursionError``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ganglion.archive.errors import ArchiveError, refusal

__all__ = ["MAX_NESTING", "load_json", "load_yaml"]

#: Deepest nesting of lists and mappings a JSON or YAML member may have (a model config
#: nests a handful of levels).
MAX_NESTING = 100


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _too_deep(archive: Path, what: str) -> ArchiveError:
    return refusal(
        archive,
        f"{what} nests lists and mappings more than {MAX_NESTING} levels deep; archives hold "
        f"plain data nested at most {MAX_NESTING} levels (this member was not written by "
        "ganglion, or was modified)",
        ArchiveError,
    )


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists, tuples and dicts more than ``limit`` deep, walked level
    by level (no recursion, and no per-node bookkeeping: this runs on every weights header)."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) in _CONTAINERS:
                    deeper.append(child)
        level = deeper
    return False


#: What the parsers build that holds other values (a YAML ``!!omap`` gives tuples).
_CONTAINERS = (dict, list, tuple)


def load_json(raw: bytes, *, archive: Path, what: str) -> Any:
    """``raw`` (UTF-8 JSON) as plain data; ``what`` names it in the refusal (a member, or a
    part of one)."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except RecursionError:  # deeper than the parser can go: far past MAX_NESTING
        raise _too_deep(archive, what) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise refusal(archive, f"{what} is not valid JSON ({exc})", ArchiveError) from None
    if _nesting_exceeds(data, MAX_NESTING):
        raise _too_deep(archive, what)
    return data


def _plain_yaml(text: str, loader: Any, *, archive: Path, what: str) -> Any:
    """``text`` loaded with ``loader`` once its event stream shows no alias and no nesting past
    :data:`MAX_NESTING` (the event parser keeps its own stack; building nodes recurses, so it
    runs only on what passed)."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(archive, what)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise refusal(
                archive,
                f"{what} uses a YAML alias (*{event.anchor}); archived configs are "
                "plain data and aliases are refused (they can blow up memory)",
            )
    return yaml.load(text, Loader=loader)  # one of the safe loaders: plain data only


@functools.cache
def _libyaml_limits_nesting() -> bool:
    """Whether PyYAML's libyaml refuses nesting past 1000 levels itself (0.2.5 and later):
    building its nodes, which recurses in C, then cannot overflow the stack however deep the
    text nests."""
    from yaml import _yaml  # the libyaml binding

    return tuple(_yaml.get_version()) >= (0, 2, 5)


def load_yaml(raw: bytes, *, archive: Path, what: str) -> Any:
    """``raw`` (UTF-8 YAML, the safe subset) as plain data; aliases are refused (they can
    blow up memory: "billion laughs"), and so is nesting past :data:`MAX_NESTING`.

    Parsed by libyaml where PyYAML has it (several times faster). A text without a ``*``
    holds no alias, and libyaml refuses nesting past 1000 levels, so it is loaded in one pass
    and its nesting checked on the result; otherwise the parser's event stream is checked
    before any object is built. What libyaml refuses is parsed again by PyYAML's Python
    parser, whose refusal is the one reported (libyaml stops at its own nesting limit while
    scanning ahead, before an event shows the depth)."""
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refusal(archive, f"{what} is not UTF-8 ({exc})", ArchiveError) from None
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            if b"*" in raw or not _libyaml_limits_nesting():  # an alias, or depth unbounded
                return _plain_yaml(text, fast, archive=archive, what=what)
            data = yaml.load(text, Loader=fast)  # a safe loader: plain data only
        except yaml.YAMLError:
            pass  # explained below
        except RecursionError:  # building nests deeper than Python's recursion limit
            raise _too_deep(archive, what) from None
        else:
            if _nesting_exceeds(data, MAX_NESTING):
                raise _too_deep(archive, what)
            return data
    try:
        return _plain_yaml(text, yaml.SafeLoader, archive=archive, what=what)
    except yaml.YAMLError as exc:
        raise refusal(archive, f"{what} is not valid YAML ({exc})", ArchiveError) from None
