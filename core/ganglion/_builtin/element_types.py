"""Built-in plugin: the core's domain-neutral element types."""

from ganglion.hookspecs import hookimpl

_CORE_ELEMENT_TYPES = (
    "ElementType",
    "VoidType",
    "ChannelType",
    "LogitsType",
    "LogprobsType",
    "ProbsType",
    "LabelsType",
    "LengthsType",
    "LossType",
    "EmbeddedType",
    "EncodedRepresentation",
    "IndexType",
    "MaskType",
)


@hookimpl
def register_element_types(register):
    for name in _CORE_ELEMENT_TYPES:
        register(name, f"ganglion.types.elements:{name}")
