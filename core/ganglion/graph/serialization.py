"""A graph as plain data, and back: ``serialize`` / ``deserialize``, YAML export / import.

The layout (every value plain: it dumps to YAML and JSON as it is)::

    header:      {format: ganglion.graph, format_version: 1, ganglion_version: ...,
                  operation_mode: training, name: training_graph}
    modules:     {taylornet0: {_target_: my_pkg.TaylorNet, dim: 4}, ...}
    steps:       [datalayer0, taylornet0, mse0]           # step number = position
    connections: ["0.datalayer0.x->1.taylornet0.x | B,D:ChannelType", ...]
    inputs:      ["x->1.taylornet0.x | B,D:ChannelType"]  # graph input -> consumer
    outputs:     {type: default | manual, mappings: ["2.mse0.loss->loss | *:LossType"]}

Rebuilding resolves every module's ``_target_`` through the one ``_target_`` policy
(:mod:`ganglion.targets`), the same one archives use: a file can only name registered
modules, classes of installed plugins, or explicitly allowed ones. Everything is parsed and
checked before a module is built, and a failure part-way releases what was built, so a
refused file leaves the modules, the graphs and their names as they were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ganglion.graph.errors import GraphConfigError, GraphError
from ganglion.graph.mode import OperationMode
from ganglion.graph.naming import check_name, registry_of
from ganglion.graph.tensors import NmTensor, format_type

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.graph.neural_graph import NeuralGraph

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "deserialize",
    "export_to_config",
    "import_from_config",
    "serialize",
]

FORMAT = "ganglion.graph"
FORMAT_VERSION = 1
_SECTIONS = ("header", "modules", "steps", "connections", "inputs", "outputs")
_END = r"(?P<{p}step>\d+)\.(?P<{p}module>[A-Za-z_]\w*)\.(?P<{p}port>[A-Za-z_]\w*)"
_TYPE = r"(?:\s*\|\s*(?P<type>.+?))?\s*$"
_CONNECTION = re.compile(r"^\s*" + _END.format(p="s") + r"\s*->\s*" + _END.format(p="d") + _TYPE)
_INPUT = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)(?:\s*->\s*" + _END.format(p="d") + r")?" + _TYPE)
_OUTPUT = re.compile(
    r"^\s*(?:" + _END.format(p="s") + r"|input\.(?P<input>[A-Za-z_]\w*))\s*->\s*"
    r"(?P<name>[A-Za-z_]\w*)" + _TYPE
)


# -- writing ------------------------------------------------------------------------------
def _end(tensor: NmTensor) -> str:
    return tensor.unique_name


def serialize(graph: NeuralGraph) -> dict[str, Any]:
    """``graph`` as plain data (see the module docstring); freezes its topology."""
    from omegaconf import OmegaConf

    import ganglion
    from ganglion.errors import ConfigError

    modules: dict[str, Any] = {}
    for name, module in graph.graph_modules.items():
        try:
            modules[name] = OmegaConf.to_container(module.to_config_dict(), resolve=True)
        except ConfigError as exc:
            raise GraphError(
                f"graph {graph.name!r}: module {name} ({type(module).__name__}) cannot be "
                f"serialised: {exc}"
            ) from None
    connections, inputs = [], []
    for step in graph.steps:
        for port, src in step.inputs.items():
            dst = f"{step.number}.{step.module_name}.{port}"
            if src.is_graph_input:
                inputs.append(f"{src.port}->{dst} | {format_type(src.type)}")
            else:
                connections.append(f"{_end(src)}->{dst} | {format_type(src.type)}")
    consumed = {line.split("->", 1)[0] for line in inputs}
    inputs.extend(
        f"{name} | {format_type(t.type)}"
        for name, t in graph.inputs.items()
        if name not in consumed
    )
    outputs = {
        "type": "manual" if graph.outputs.is_manual else "default",
        "mappings": [
            f"{_end(t)}->{name} | {format_type(t.type)}" for name, t in graph.outputs.bound.items()
        ],
    }
    graph.freeze_topology("it was serialised")
    return {
        "header": {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ganglion_version": ganglion.__version__,
            "operation_mode": str(graph.operation_mode),
            "name": graph.name,
        },
        "modules": modules,
        "steps": [step.module_name for step in graph.steps],
        "connections": connections,
        "inputs": inputs,
        "outputs": outputs,
    }


def export_to_config(graph: NeuralGraph, config_file: str | Path) -> Path:
    """Write ``serialize(graph)`` as YAML, atomically."""
    import yaml

    from ganglion.archive.atomic import atomic_write_text

    text = yaml.safe_dump(serialize(graph), sort_keys=False)
    return atomic_write_text(config_file, text)


# -- reading ------------------------------------------------------------------------------
class _Edge(NamedTuple):
    src: tuple[int, str, str] | None  # (step, module, port) or None for a graph input
    input_name: str | None
    dst: tuple[int, str, str] | None
    type: Any
    text: str


def _fail(source: str, message: str) -> GraphConfigError:
    return GraphConfigError(f"{source}: {message}")


def _parse_type(source: str, key: str, text: str | None) -> Any:
    if text is None or text.strip() == "untyped":
        return None
    from ganglion.types.errors import NeuralTypeError, NeuralTypeSyntaxError
    from ganglion.types.parsing import parse_port_type

    try:
        return parse_port_type(text.strip(), where=key)
    except (NeuralTypeError, NeuralTypeSyntaxError) as exc:
        raise _fail(source, str(exc)) from None


def _list(source: str, config: Mapping[str, Any], key: str) -> list[Any]:
    value = config.get(key, [])
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(source, f"{key}: expected a list, got {type(value).__name__}")
    return list(value)


def _check_end(source: str, key: str, steps: list[str], step: int, module: str) -> None:
    if step >= len(steps):
        raise _fail(source, f"{key}: step {step} does not exist (the graph has {len(steps)} steps)")
    if steps[step] != module:
        raise _fail(source, f"{key}: step {step} is {steps[step]!r}, not {module!r}")


def _parse(source: str, config: Any) -> dict[str, Any]:
    """Everything checked that can be without building a module."""
    from ganglion.errors import check_known_keys

    if not isinstance(config, Mapping):
        raise _fail(source, f"a serialised graph is a mapping, got {type(config).__name__}")
    check_known_keys(config, _SECTIONS, where=source)
    header = config.get("header")
    if not isinstance(header, Mapping) or header.get("format") != FORMAT:
        raise _fail(source, f"header.format must be {FORMAT!r}: this is not a serialised graph")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(
            source,
            f"header.format_version {version!r} is not supported (this ganglion reads "
            f"{FORMAT_VERSION}); export the graph again with a matching ganglion",
        )
    try:
        mode = OperationMode.parse(header.get("operation_mode"), where=f"{source}: header")
    except GraphError as exc:
        raise GraphConfigError(str(exc)) from None
    modules = config.get("modules")
    if not isinstance(modules, Mapping) or not modules:
        raise _fail(source, "modules: expected a mapping of module name -> config")
    for name, cfg in modules.items():
        check_name(name, what=f"{source}: modules")
        if not isinstance(cfg, Mapping) or "_target_" not in cfg:
            raise _fail(source, f"modules.{name}: expected a config with _target_")
    steps = [str(s) for s in _list(source, config, "steps")]
    if not steps:
        raise _fail(source, "steps: a graph has at least one step")
    for number, name in enumerate(steps):
        if name not in modules:
            raise _fail(
                source,
                f"steps[{number}]: module {name!r} is not in modules "
                f"({', '.join(map(str, modules))})",
            )
    edges: list[_Edge] = []
    for i, text in enumerate(_list(source, config, "connections")):
        key = f"connections[{i}] {text!r}"
        match = _CONNECTION.match(str(text))
        if match is None:
            raise _fail(source, f"{key}: expected 'STEP.MODULE.PORT->STEP.MODULE.PORT | TYPE'")
        s = (int(match["sstep"]), match["smodule"], match["sport"])
        d = (int(match["dstep"]), match["dmodule"], match["dport"])
        _check_end(source, key, steps, *s[:2])
        _check_end(source, key, steps, *d[:2])
        if s[0] >= d[0]:
            raise _fail(source, f"{key}: a step takes inputs only from earlier steps")
        edges.append(_Edge(s, None, d, _parse_type(source, key, match["type"]), key))
    for i, text in enumerate(_list(source, config, "inputs")):
        key = f"inputs[{i}] {text!r}"
        match = _INPUT.match(str(text))
        if match is None:
            raise _fail(source, f"{key}: expected 'NAME->STEP.MODULE.PORT | TYPE'")
        d = None
        if match["dstep"] is not None:
            d = (int(match["dstep"]), match["dmodule"], match["dport"])
            _check_end(source, key, steps, *d[:2])
        edges.append(_Edge(None, match["name"], d, _parse_type(source, key, match["type"]), key))
    outputs = config.get("outputs") or {}
    if not isinstance(outputs, Mapping) or outputs.get("type", "default") not in (
        "default",
        "manual",
    ):
        raise _fail(source, "outputs: expected {type: default | manual, mappings: [...]}")
    mappings = []
    for i, text in enumerate(_list(source, outputs, "mappings")):
        key = f"outputs.mappings[{i}] {text!r}"
        match = _OUTPUT.match(str(text))
        if match is None:
            raise _fail(source, f"{key}: expected 'STEP.MODULE.PORT->NAME | TYPE'")
        if match["input"] is None:
            _check_end(source, key, steps, int(match["sstep"]), match["smodule"])
            end = f"{match['sstep']}.{match['smodule']}.{match['sport']}"
        else:
            end = f"input.{match['input']}"
        mappings.append((end, match["name"], _parse_type(source, key, match["type"]), key))
    return {
        "mode": mode,
        "name": header.get("name"),
        "modules": modules,
        "steps": steps,
        "edges": edges,
        "manual": outputs.get("type", "default") == "manual",
        "mappings": mappings,
    }


def _check_type(source: str, key: str, declared: Any, actual: Any) -> None:
    if declared is not None and actual is not None and format_type(declared) != format_type(actual):
        raise _fail(
            source,
            f"{key}: the file says type {format_type(declared)}, but the module's port is "
            f"{format_type(actual)}; export the graph again or fix the type",
        )


def deserialize(
    configuration: Any,
    *,
    reuse_existing_modules: bool = False,
    name: str | None = None,
    source: str = "serialised graph",
) -> NeuralGraph:
    """Rebuild a graph (see the module docstring). ``source`` names the data in errors."""
    from ganglion.graph.neural_graph import NeuralGraph
    from ganglion.module import NeuralModule, resolve_module_class

    configuration = _plain(configuration)
    parsed = _parse(source, configuration)
    module_names = registry_of("module")
    graph_names = registry_of("graph")
    if name is not None:
        check_name(name, what=f"{source}: name")
        if not graph_names.is_free(name):
            raise _fail(source, f"a graph named {name!r} already exists; pass another name")
    # classes first (the _target_ policy refuses before anything is imported or built)
    classes: dict[str, type] = {}
    reused: dict[str, Any] = {}
    for mname, cfg in parsed["modules"].items():
        key = f"{source}: modules.{mname}._target_"
        try:
            classes[mname] = resolve_module_class(str(cfg["_target_"]), key=key)
        except GraphError:
            raise
        except Exception as exc:  # the policy's refusals, unknown names
            raise GraphConfigError(str(exc)) from None
        existing = module_names.get(mname)
        if existing is None:
            continue
        if not reuse_existing_modules:
            raise _fail(
                source,
                f"a module named {mname!r} already exists ({type(existing).__name__}); pass "
                "reuse_existing_modules=True to wire the existing module, or delete it first",
            )
        if type(existing) is not classes[mname]:
            raise _fail(
                source,
                f"modules.{mname}: the existing module of that name is a "
                f"{type(existing).__name__}, the file wants {classes[mname].__name__}",
            )
        reused[mname] = existing
    built: list[Any] = []
    graph = None
    try:
        modules: dict[str, Any] = dict(reused)
        for mname, cfg in parsed["modules"].items():
            if mname in modules:
                continue
            module = NeuralModule.from_config_dict(cfg, where=f"{source}: modules.{mname}")
            built.append(module)
            module.name = mname
            modules[mname] = module
        stored = parsed["name"]
        graph = NeuralGraph(operation_mode=parsed["mode"], name=name)
        if name is None and isinstance(stored, str) and graph_names.is_free(stored):
            graph.name = stored
        _wire(graph, parsed, modules, source)
        return graph
    except Exception:
        for module in built:
            module_names.release(module)
        if graph is not None:
            graph_names.release(graph)
            for module in modules.values():
                module.__dict__.get("_ganglion_graphs", set()).discard(graph)
        raise


def _wire(graph: NeuralGraph, parsed: dict[str, Any], modules: dict[str, Any], source: str) -> None:
    from ganglion.errors import GanglionError

    inputs_of: dict[int, list[_Edge]] = {}
    for edge in parsed["edges"]:
        if edge.input_name is not None and edge.input_name not in graph.inputs:
            graph.inputs.add(edge.input_name, edge.type)
        if edge.dst is not None:
            inputs_of.setdefault(edge.dst[0], []).append(edge)
    with graph:
        for number, mname in enumerate(parsed["steps"]):
            module = modules[mname]
            kwargs: dict[str, Any] = {}
            for edge in inputs_of.get(number, []):
                port = edge.dst[2]  # type: ignore[index]
                if edge.src is None:
                    kwargs[port] = graph.inputs[edge.input_name]  # type: ignore[index]
                    continue
                src_step = graph.steps[edge.src[0]]
                if edge.src[2] not in src_step.outputs:
                    raise _fail(
                        source,
                        f"{edge.text}: {edge.src[1]} has no output port {edge.src[2]!r} "
                        f"(it has {', '.join(src_step.outputs)})",
                    )
                tensor = src_step.outputs[edge.src[2]]
                _check_type(source, edge.text, edge.type, tensor.type)
                kwargs[port] = tensor
            try:
                module(**kwargs)
            except GanglionError as exc:
                raise _fail(source, f"steps[{number}] ({mname}): {_strip_location(exc)}") from None
    bound: dict[str, NmTensor] = {}
    for end, oname, otype, key in parsed["mappings"]:
        if end.startswith("input."):
            tensor = graph.inputs[end[len("input.") :]]
        else:
            step_no, _, port = end.split(".")
            step = graph.steps[int(step_no)]
            if port not in step.outputs:
                raise _fail(source, f"{key}: {step.module_name} has no output port {port!r}")
            tensor = step.outputs[port]
        _check_type(source, key, otype, tensor.type)
        bound[oname] = tensor
    if parsed["manual"]:
        for oname, tensor in bound.items():
            graph.outputs[oname] = tensor
    elif bound and {k: t.unique_name for k, t in bound.items()} != {
        k: t.unique_name for k, t in graph.outputs.default.items()
    }:
        raise _fail(
            source,
            "outputs: the default outputs listed differ from what the steps produce; "
            "mark them 'type: manual' to bind them by hand",
        )


def _strip_location(exc: Exception) -> str:
    """A wiring error's message without its ``file:line:`` prefix (it points into ganglion
    while a file is rebuilt)."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    return rest if sep and re.match(r"^.+:\d+$", head) else text


def _plain(configuration: Any) -> Any:
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover
        return configuration
    if isinstance(configuration, DictConfig):
        return OmegaConf.to_container(configuration, resolve=True)
    return configuration


def import_from_config(
    config_file: str | Path, *, reuse_existing_modules: bool = False, name: str | None = None
) -> NeuralGraph:
    """Rebuild a graph from a YAML file written by :func:`export_to_config`."""
    import yaml

    from ganglion.errors import yaml_error_message

    path = Path(config_file)
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except OSError as exc:
        raise GraphConfigError(f"{path}: cannot read the graph file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise GraphConfigError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise GraphConfigError(yaml_error_message(exc)) from None
    return deserialize(
        data, reuse_existing_modules=reuse_existing_modules, name=name, source=str(path)
    )
