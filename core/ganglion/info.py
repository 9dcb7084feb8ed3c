"""``ganglion info ARCHIVE``: describe a ``.ganglion`` model archive and verify it.

Prints the manifest (format, model, versions), the model class and whether an installed plugin
provides it, the parameter count (from the safetensors header: no tensor is loaded), the
artifacts and every member with its size, and rehashes every member against the manifest;
when the config's checksum matches, it is parsed too (as a restore would: aliases and deep
nesting refused) and its top-level keys shown.

Exit status: 0 when every checksum matches, 1 when one does not, 2 when the archive is
refused or cannot be read. Imports no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ganglion.archive import CONFIG_NAME, MANIFEST_NAME, ModelArchive
from ganglion.errors import GanglionError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (called by ``ganglion.cli``)."""
    parser.description = "Describe a .ganglion model archive and verify its checksums."
    parser.add_argument("archive", metavar="ARCHIVE", help="path to a .ganglion file")
    parser.add_argument("--json", action="store_true", help="print stable, sorted JSON")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip rehashing the members (faster)"
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _model_status(archive: ModelArchive) -> str:
    from ganglion.plugins import registry

    models = registry("models")
    name = archive.model_name
    if name is not None and name in models:
        entry = models.get(name)
        return f"registered by {entry.provider}"
    entry = models.find_by_target(archive.model_class)
    if entry is not None:
        return f"registered as '{entry.name}' by {entry.provider}"
    return "not provided by any installed plugin"


def describe(archive: ModelArchive, *, verify: bool = True) -> dict[str, Any]:
    """Everything ``ganglion info`` shows, as JSON-ready data."""
    header = archive.weights_header()
    dtypes: dict[str, int] = {}
    for e in header.entries:
        dtypes[e.dtype] = dtypes.get(e.dtype, 0) + e.numel
    checks = archive.verify() if verify else {}
    config_keys = None
    if verify and checks.get(CONFIG_NAME) is None:  # a hostile config is refused here
        config_keys = [str(key) for key in archive.read_config()]
    members = []
    for name in archive.member_names():
        if name == MANIFEST_NAME:
            continue
        record = archive.manifest["members"][name]
        item: dict[str, Any] = {"name": name}
        if record.get("type") == "directory":
            item["type"] = "directory"
        else:
            item.update(size=record["size"], sha256=record["sha256"])
            if verify:
                item["ok"] = checks.get(name) is None
                if checks.get(name):
                    item["error"] = checks[name]
        members.append(item)
    m = archive.manifest
    return {
        "archive": str(archive.path),
        "format": m["format"],
        "format_version": m["format_version"],
        "created": m.get("created"),
        "model": {
            "name": archive.model_name,
            "class": archive.model_class,
            "provider": m["model"].get("provider"),
            "status": _model_status(archive),
        },
        "versions": m.get("versions", {}),
        "config_keys": config_keys,
        "parameters": archive.parameter_count(),
        "tensors": len(header.entries),
        "tied": sorted(header.aliases),
        "parameters_by_dtype": dtypes,
        "artifacts": [
            {
                "config_path": a.config_path,
                "member": a.member,
                "handler": a.handler,
                "type": "directory" if a.is_dir else "file",
            }
            for a in archive.artifacts
        ],
        "members": members,
        "verified": (all(i.get("ok", True) for i in members) if verify else None),
    }


def _clean(value: Any) -> str:
    """Text from an untrusted manifest, safe to print (no terminal control sequences)."""
    return "".join(c if c.isprintable() else "?" for c in str(value))


def _print(info: dict[str, Any]) -> None:
    model = info["model"]
    versions = info["versions"] if isinstance(info["versions"], dict) else {}
    print(f"Archive     {_clean(info['archive'])}")
    print(
        f"Format      {info['format']} v{info['format_version']}, created {_clean(info['created'])}"
    )
    name = f"{_clean(model['name'])} " if model["name"] else ""
    print(f"Model       {name}({_clean(model['class'])}), {_clean(model['status'])}")
    if model.get("provider"):
        print(f"Saved with  model from {_clean(model['provider'])}")
    listed = [f"{_clean(k)} {_clean(v)}" for k, v in versions.items() if k != "plugins"]
    print(f"Versions    {', '.join(listed)}")
    plugins = versions.get("plugins")
    if isinstance(plugins, dict) and plugins:
        shown = ", ".join(f"{_clean(k)} {_clean(v or '?')}" for k, v in plugins.items())
        print(f"Plugins     {shown}")
    if info["config_keys"] is not None:
        keys = ", ".join(_clean(k) for k in info["config_keys"])
        print(f"Config      {len(info['config_keys'])} top-level keys: {keys or '(none)'}")
    by_dtype = ", ".join(f"{k} {v:,}" for k, v in sorted(info["parameters_by_dtype"].items()))
    tied = f", {len(info['tied'])} tied" if info["tied"] else ""
    print(
        f"Parameters  {info['parameters']:,} in {info['tensors']} tensors{tied} "
        f"(buffers included; {by_dtype or 'empty'})"
    )
    if info["artifacts"]:
        print("Artifacts")
        for a in info["artifacts"]:
            slash = "/" if a["type"] == "directory" else ""
            print(
                f"  {_clean(a['config_path'])} -> {_clean(a['member'])}{slash} "
                f"(handler {_clean(a['handler'])})"
            )
    print("Members")
    width = max(len(m["name"]) for m in info["members"])
    for m in info["members"]:
        if m.get("type") == "directory":
            print(f"  {_clean(m['name']):<{width}}  {'directory':>10}")
            continue
        state = "" if "ok" not in m else ("  ok" if m["ok"] else "  CHECKSUM MISMATCH")
        print(f"  {_clean(m['name']):<{width}}  {_size(m['size']):>10}{state}")
    if info["verified"] is None:
        print("Checksums   not verified (--no-verify)")
    elif info["verified"]:
        count = sum(1 for m in info["members"] if "ok" in m)
        print(f"Checksums   all {count} members match the manifest")
    else:
        bad = [_clean(m["name"]) for m in info["members"] if m.get("ok") is False]
        print(f"Checksums   MISMATCH in {', '.join(bad)}: the file is corrupt or was modified")


def run(args: argparse.Namespace) -> int:
    """Run ``ganglion info``; returns the exit status."""
    try:
        with ModelArchive.open(args.archive) as archive:
            info = describe(archive, verify=not args.no_verify)
    except GanglionError as exc:
        print(f"ganglion: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        _print(info)
    return 0 if info["verified"] in (True, None) else 1
