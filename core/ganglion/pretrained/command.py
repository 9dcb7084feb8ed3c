"""The ``ganglion pretrained list|fetch NAME`` command: list the pretrained models of every
catalogue, or download one into the cache and print its path.

Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ganglion.pretrained.catalogue import PretrainedModelInfo
from ganglion.pretrained.catalogue_files import ENV_CATALOGUE
from ganglion.pretrained.lookup import available_models, fetch_pretrained, find_model

__all__ = ["add_arguments", "describe", "run"]


def add_arguments(parser: Any) -> None:
    """``ganglion pretrained [list|fetch NAME]``'s arguments."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for action, help_text in (
        ("list", "list the pretrained models of every catalogue (the default)"),
        ("fetch", "download a pretrained model into the cache and print its path"),
    ):
        p = sub.add_parser(action, help=help_text)
        if action == "fetch":
            p.add_argument("name", help="a name that `ganglion pretrained list` shows")
            p.add_argument("--refresh", action="store_true", help="download it again")
        else:
            p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument(
            "--class",
            dest="model_class",
            metavar="MODEL",
            help="only this registered model (and its subclasses)",
        )
        p.add_argument(
            "--catalogue",
            action="append",
            metavar="PATH_OR_URL",
            help=f"another catalogue to read (repeatable; also ${ENV_CATALOGUE})",
        )


def run(args: Any) -> int:
    """Run ``ganglion pretrained``; errors are printed, not raised."""
    from ganglion.command_errors import run_reporting_errors

    return run_reporting_errors("ganglion pretrained", _run, args)


def _run(args: Any) -> int:
    model_class = None
    if getattr(args, "model_class", None):
        from ganglion.plugins import registry

        model_class = registry("models").resolve(args.model_class, key="--class")
    catalogue = getattr(args, "catalogue", None)
    if getattr(args, "action", None) == "fetch":
        info = find_model(args.name, model_class, catalogue, refresh=args.refresh)
        print(fetch_pretrained(info, refresh=args.refresh, progress=None))
        return 0
    infos = available_models(model_class, catalogue)
    if getattr(args, "json", False):
        import dataclasses
        import json

        print(json.dumps([dataclasses.asdict(i) for i in infos], indent=2, sort_keys=True))
    elif not infos:
        print(f"No pretrained models. Add a catalogue with --catalogue or ${ENV_CATALOGUE}.")
    else:
        print(describe(infos))
    return 0


def describe(infos: Iterable[PretrainedModelInfo]) -> str:
    """A listing of ``infos``: name, class, size and description, one model a line."""
    rows = [("NAME", "CLASS", "SIZE", "DESCRIPTION")]
    for i in infos:
        rows.append((i.name, i.model, f"{i.size / 1e6:.1f} MB" if i.size else "-", i.description))
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    )
