"""Neural types: what the axes and the elements of a tensor mean, and whether two agree.

Importing this package does not import torch, so configs and graphs can be type-checked
cheaply. Domain element types (audio, text, speech) live in their plugins:
``ganglion_asr.types``, ``ganglion_nlp.types``, ``ganglion_tts.types``.

Example::

    from ganglion.types import NeuralType, LogitsType, NeuralTypeComparisonResult

    port = NeuralType(("B", "T", "D"), LogitsType())
    port.compare(NeuralType("T,B,D:LogitsType"))   # TRANSPOSE_SAME
"""

from ganglion.types.axes import AxisKind, AxisType
from ganglion.types.comparison import NeuralTypeComparisonResult
from ganglion.types.elements import (
    CORE_ELEMENT_TYPES,
    ChannelType,
    ElementType,
    EmbeddedType,
    EncodedRepresentation,
    IndexType,
    LabelsType,
    LengthsType,
    LogitsType,
    LogprobsType,
    LossType,
    MaskType,
    PredictionsType,
    ProbsType,
    VoidType,
)
from ganglion.types.errors import NeuralTypeError, NeuralTypeSyntaxError
from ganglion.types.neural_type import NeuralType
from ganglion.types.parsing import (
    format_neural_type,
    format_port_type,
    parse_element_type,
    parse_neural_type,
    parse_port_type,
)
from ganglion.types.ports import (
    PortCheck,
    check_connection,
    compare_port_types,
    format_port_types,
    parse_port_types,
)

__all__ = [
    "AxisKind",
    "AxisType",
    "CORE_ELEMENT_TYPES",
    "ChannelType",
    "ElementType",
    "EmbeddedType",
    "EncodedRepresentation",
    "IndexType",
    "LabelsType",
    "LengthsType",
    "LogitsType",
    "LogprobsType",
    "LossType",
    "MaskType",
    "NeuralType",
    "NeuralTypeComparisonResult",
    "NeuralTypeError",
    "NeuralTypeSyntaxError",
    "PortCheck",
    "PredictionsType",
    "ProbsType",
    "VoidType",
    "check_connection",
    "compare_port_types",
    "format_neural_type",
    "format_port_type",
    "format_port_types",
    "parse_element_type",
    "parse_neural_type",
    "parse_port_type",
    "parse_port_types",
]
