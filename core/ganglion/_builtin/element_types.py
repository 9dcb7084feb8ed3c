"""Built-in plugin: the core's domain-neutral element types."""

from ganglion.hookspecs import hookimpl

# names only (no import of ganglion.types here): each is "ganglion.types.elements:<name>"
_CORE_ELEMENT_TYPES = (
    "ElementType",
    "VoidType",
    "ChannelType",
    "EncodedRepresentation",
    "EmbeddedType",
    "LogitsType",
    "LogprobsType",
    "ProbsType",
    "LabelsType",
    "PredictionsType",
    "LengthsType",
    "LossType",
    "IndexType",
    "MaskType",
)


@hookimpl
def register_element_types(register):
    for name in _CORE_ELEMENT_TYPES:
        register(name, f"ganglion.types.elements:{name}")
