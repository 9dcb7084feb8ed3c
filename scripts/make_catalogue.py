"""Write a pretrained-model catalogue for ``.ganglion`` archives (what ``from_pretrained`` reads).

    python scripts/make_catalogue.py ARCHIVE... --base-url URL -o catalogue.yaml \\
        [--description NAME=TEXT ...]

One entry per archive: ``name`` is the file name without ``.ganglion``, ``class`` the registered
model name stored in the archive, ``location`` ``URL/<file name>`` (the place the release
uploads the archive to; without ``--base-url``, the archive's path relative to the
catalogue), and ``sha256`` and ``size`` those of the file. Descriptions come from
``--description``, else from the entry of the same name in the existing output file, so a
release only re-runs this script over its new archives. The archives are checked (manifest and
member checksums) before anything is written; the output appears complete or not at all.
Imports no torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

HEADER = """\
# Pretrained checkpoints: the list `Model.list_available_models()` shows and
# `Model.from_pretrained(name)` downloads (see README.md, "Pretrained models").
# Written by scripts/make_catalogue.py from the archives themselves: do not edit sha256/size by
# hand; re-run the script over the released archives instead.
"""


PLACEHOLDER_NOTE = """\
# PLACEHOLDER: the `.invalid` host below is not a real server (it never resolves). The release
# uploads the archives and re-runs this script with its real --base-url (a GitHub release's
# asset URL, https://github.com/OWNER/ganglion/releases/download/vVERSION). Until then,
# from_pretrained fails with the path to save a hand-fetched copy at.
"""


class CatalogueScriptError(Exception):
    """A bad argument or archive, said in one line."""


def _model_name(path: Path) -> str:
    from ganglion.archive import ArchiveError, ModelArchive

    try:
        with ModelArchive.open(path) as archive:
            bad = {member: why for member, why in archive.verify().items() if why}
            name = str(archive.model_name)
    except ArchiveError as exc:
        raise CatalogueScriptError(f"{path}: not a usable .ganglion archive: {exc}") from None
    except OSError as exc:
        raise CatalogueScriptError(f"{path}: cannot read it: {exc}") from None
    if bad:
        what = "; ".join(f"{member}: {why}" for member, why in sorted(bad.items()))
        raise CatalogueScriptError(f"{path}: damaged archive ({what}); re-save it")
    return name


def _descriptions(pairs: list[str], previous: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    if previous.is_file():
        import yaml

        try:
            old = yaml.safe_load(previous.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CatalogueScriptError(
                f"{previous}: the existing catalogue is not valid YAML ({exc}); fix or delete it"
            ) from None
        for entry in old if isinstance(old, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                found[entry["name"]] = str(entry.get("description") or "")
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CatalogueScriptError(f"--description {pair!r}: expected NAME=TEXT")
        found[name] = text
    return found


def _location(archive: Path, base_url: str | None, output: Path | None) -> str:
    if base_url:
        return base_url.rstrip("/") + "/" + urllib.parse.quote(archive.name)
    if output is None:
        return archive.resolve().as_uri()
    rel = os.path.relpath(archive.resolve(), output.resolve().parent)
    return Path(rel).as_posix()


def make_entries(
    archives: list[Path],
    *,
    base_url: str | None = None,
    output: Path | None = None,
    descriptions: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The catalogue entries of ``archives`` (in the order given)."""
    from ganglion.archive.artifacts import sha256_file

    if base_url is not None and urllib.parse.urlsplit(base_url).scheme not in (
        "http",
        "https",
        "file",
    ):
        raise CatalogueScriptError(
            f"--base-url {base_url!r}: expected an http://, https:// or file:// URL"
        )
    descriptions = descriptions or {}
    entries: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    for archive in archives:
        if not archive.is_file():
            raise CatalogueScriptError(f"{archive}: no such file")
        name = archive.name.removesuffix(".ganglion")
        if name in seen:
            raise CatalogueScriptError(
                f"{archive} and {seen[name]} both give the name '{name}'; rename one"
            )
        seen[name] = archive
        sha256, size = sha256_file(archive)
        entries.append(
            {
                "name": name,
                "class": _model_name(archive),
                "description": descriptions.get(name, ""),
                "location": _location(archive, base_url, output),
                "sha256": sha256,
                "size": size,
            }
        )
    return entries


def render(entries: list[dict[str, Any]]) -> str:
    """The catalogue's YAML text, with a header saying where it comes from."""
    import yaml

    body = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100)
    hosts = {urllib.parse.urlsplit(str(e["location"])).hostname or "" for e in entries}
    if any(h == "invalid" or h.endswith(".invalid") for h in hosts):
        return HEADER + PLACEHOLDER_NOTE + body
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_catalogue.py",
        description="Write a pretrained-model catalogue (YAML) for .ganglion archives.",
    )
    parser.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    parser.add_argument(
        "--base-url",
        help="where the archives are published (each entry's location is URL/<file name>); "
        "default: the archive's path relative to the output file",
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="the catalogue to write (default: standard output)"
    )
    parser.add_argument(
        "--description",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="an entry's description (default: kept from the existing output file)",
    )
    args = parser.parse_args(argv)
    try:
        descriptions = _descriptions(args.description, args.output or Path(os.devnull))
        entries = make_entries(
            args.archives, base_url=args.base_url, output=args.output, descriptions=descriptions
        )
        text = render(entries)
        if args.output is None:
            sys.stdout.write(text)
        else:
            from ganglion.archive import atomic_write_text

            try:
                atomic_write_text(args.output, text)
            except OSError as exc:
                raise CatalogueScriptError(f"{args.output}: cannot write it: {exc}") from None
            print(
                f"wrote {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} to {args.output}"
            )
    except CatalogueScriptError as exc:
        print(f"make_catalogue.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
