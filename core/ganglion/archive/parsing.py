"""Reading the archive's JSON and YAML members, which are untrusted: duplicate keys and YAML
aliases are refused, and every failure is a refusal naming the archive and the member."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganglion.archive.errors import ArchiveError, refusal

__all__ = ["load_json", "load_yaml"]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(raw: bytes, *, archive: Path, what: str) -> Any:
    """``raw`` (UTF-8 JSON) as plain data; ``what`` names it in the refusal (a member, or a
    part of one)."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise refusal(archive, f"{what} is not valid JSON ({exc})", ArchiveError) from None


def load_yaml(raw: bytes, *, archive: Path, what: str) -> Any:
    """``raw`` (UTF-8 YAML, the safe subset) as plain data; aliases are refused (they can
    blow up memory: "billion laughs")."""
    import yaml

    try:
        text = raw.decode("utf-8")
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise refusal(
                    archive,
                    f"{what} uses a YAML alias (*{event.anchor}); archived configs are "
                    "plain data and aliases are refused (they can blow up memory)",
                )
        return yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise refusal(archive, f"{what} is not UTF-8 ({exc})", ArchiveError) from None
    except yaml.YAMLError as exc:
        raise refusal(archive, f"{what} is not valid YAML ({exc})", ArchiveError) from None
