"""The ``ganglion`` command (also ``python -m ganglion``).

Sub-commands that only look at plugins (``plugins``, ``list``, ``--version``) import no torch;
heavier ones (``train``, ``info``) import their modules only when run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from ganglion.hookspecs import HOOK_KINDS

KIND_NAMES = [kind.replace("_", "-") for kind in HOOK_KINDS.values()]

#: Heavy sub-commands: name -> (module, help). The module has ``add_arguments(parser)`` and
#: ``run(args) -> int``, or ``run_argv(argv) -> int`` to parse its own arguments (``train`` hands
#: them to Hydra); it is imported only when its command runs (or its --help is asked).
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("ganglion.training.command", "compose a config with Hydra and train a model"),
    "info": ("ganglion.info", "describe a .ganglion model archive"),
    "pretrained": (
        "ganglion.pretrained.command",
        "list or fetch pretrained models (list|fetch NAME)",
    ),
}


def _versions_text() -> str:
    from ganglion import __version__
    from ganglion.plugins import get_plugin_manager

    manager = get_plugin_manager()
    lines = [f"ganglion-core {__version__}"]
    seen = set()
    for info in sorted(
        [*manager.plugins.values(), *manager.failed_plugins.values()], key=lambda i: i.name
    ):
        if info.builtin or (info.distribution, info.version) in seen:
            continue
        seen.add((info.distribution, info.version))
        state = " (failed to load)" if info.failed else ""
        lines.append(f"{info.distribution or info.name} {info.version or '?'}{state}")
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            help="print the versions of the core and of every installed plugin, then exit",
        )

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        print(_versions_text())
        parser.exit()


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )


def _cmd_plugins(args: argparse.Namespace) -> int:
    from ganglion.plugins import get_plugin_manager

    description = get_plugin_manager().describe(include_builtins=args.all)
    if args.json:
        print(json.dumps(description, indent=2, sort_keys=True))
        return 0
    plugins = description["plugins"]
    if plugins:
        kinds = list(HOOK_KINDS.values())
        header = ["PLUGIN", "DISTRIBUTION", "VERSION", *(k.replace("_", "-") for k in kinds)]
        rows = [header]
        for p in plugins:
            counts = [str(p["registers"].get(k, {}).get("count", "-")) for k in kinds]
            rows.append([p["name"], p["distribution"] or "-", p["version"] or "-", *counts])
        print(_table(rows))
        print()
        contested = {(c["kind"], c["name"]) for c in description["conflicts"]}
        for p in plugins:
            print(f"{p['name']} ({p['entry_point']}):")
            for kind, what in p["registers"].items():
                names = [f"{n} !" if (kind, n) in contested else n for n in what["names"]]
                print(f"  {kind.replace('_', '-')}: {', '.join(names)}")
    else:
        print("No plugins installed." + ("" if args.all else " (--all shows the core's built-ins)"))
    if description["failed"]:
        print()
        print("Failed plugins (their names are unavailable until fixed):")
        for p in description["failed"]:
            dist = f" {p['distribution']} {p['version']}" if p["distribution"] else ""
            print(f"  {p['name']}{dist} ({p['entry_point']}): {p['error']}")
    if description["conflicts"]:
        print()
        print("Conflicting names, marked ! (unusable until one provider is removed or disabled):")
        for c in description["conflicts"]:
            print(f"  {c['kind'].replace('_', '-')} {c['name']!r}: {c['error']}")
    if description["disabled"]:
        print()
        names = ", ".join(p["name"] for p in description["disabled"])
        print(f"Disabled by GANGLION_PLUGINS / GANGLION_DISABLE_PLUGINS: {names}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ganglion.plugins import get_plugin_manager

    manager = get_plugin_manager()
    kind = args.kind.replace("-", "_")
    registry = manager.registry(kind)
    entries = list(registry)
    if args.json:
        rows = []
        for entry in entries:
            conflict = registry.conflict(entry.name)
            rows.append({**entry.as_dict(), "conflict": conflict and conflict.as_dict()})
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not entries:
        print(f"No {args.kind} registered.")
    else:
        conflicts = registry.conflicts()
        table = [["NAME", "PROVIDER", "TARGET"]]
        for entry in entries:
            conflict = conflicts.get(entry.name)
            if conflict is None:
                table.append([entry.name, str(entry.provider), entry.target_path])
            else:  # one row per provider, each marked, so neither hides the other
                table += [[f"{e.name} !", str(e.provider), e.target_path] for e in conflict.entries]
        print(_table(table))
        for name, conflict in conflicts.items():
            providers = " and ".join(str(p) for p in conflict.providers)
            print(f"! {name}: conflict: registered by {providers}; {conflict.advice}")
    failed = manager.failed_plugins
    if failed:
        print(
            f"({len(failed)} plugin(s) failed to load and may provide more: "
            f"{', '.join(sorted(failed))}; `ganglion plugins` says why)"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganglion",
        description="Build, train, package and compose conversational-AI models from plugins.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins and what each registers")
    p.add_argument("--json", action="store_true", help="print stable, sorted JSON")
    p.add_argument("--all", action="store_true", help="include the core's built-ins")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("list", help="list the registered names of one kind with their provider")
    p.add_argument("kind", choices=KIND_NAMES, metavar="KIND", help=", ".join(KIND_NAMES))
    p.add_argument("--json", action="store_true", help="print stable, sorted JSON")
    p.set_defaults(func=_cmd_list)

    for name, (_, help_text) in _LAZY_COMMANDS.items():
        # listed for --help only: main() runs them before this parser sees the command line
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _run_lazy(name: str, rest: list[str]) -> int:
    module = importlib.import_module(_LAZY_COMMANDS[name][0])
    if hasattr(module, "run_argv"):  # the command parses its own arguments
        return int(module.run_argv(rest) or 0)
    parser = argparse.ArgumentParser(prog=f"ganglion {name}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(rest)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ganglion`` command; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _LAZY_COMMANDS:
        # the command's own options (--config-path, -m …) must not meet this parser
        return _run_lazy(argv[0], argv[1:])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from ganglion.command_errors import run_reporting_errors

    return run_reporting_errors("ganglion", args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
