"""Element types: what the numbers in a tensor mean.

An element type is a small class; Python inheritance expresses "is a kind of"
(``MelSpectrogramType`` is a kind of ``SpectrogramType``), and a type may carry parameters
(``AudioSignal(16000)``). The core ships only domain-neutral types; audio, text and speech
types come from their plugins through the ``register_element_types`` hook.

Writing one::

    class PitchContourType(ElementType):
        \"\"\"Fundamental frequency per frame, in Hz.\"\"\"

    class AudioSignal(ElementType):
        \"\"\"Audio samples at ``freq`` Hz.\"\"\"
        parameters = ("freq",)          # AudioSignal(16000) or AudioSignal(freq=16000)

Parameters are plain literals (numbers, strings, booleans, ``None``); ``None`` means "not
specified" and matches any value. Element types compare (and hash) by class and parameters;
treat them as immutable, since they are part of a neural type's identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ganglion.types.comparison import NeuralTypeComparisonResult

if TYPE_CHECKING:  # pragma: no cover
    import torch

_LITERALS = (int, float, str, bool, type(None))


class ElementType:
    """Base class of element types.

    Subclasses list their parameter names in :attr:`parameters`; the constructor then
    accepts them by position or keyword, each defaulting to ``None`` ("any").
    A subclass may instead write its own ``__init__`` and override :attr:`type_parameters`.
    """

    #: Names of this type's parameters, in positional order.
    parameters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls.parameters
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__} takes {len(names)} parameter(s) {names!r}, got {len(args)}"
            )
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                known = ", ".join(names) or "none"
                raise TypeError(f"{cls.__name__} has no parameter {key!r} (parameters: {known})")
            if key in values:
                raise TypeError(f"{cls.__name__}: parameter {key!r} given twice")
            values[key] = value
        params = {name: values.get(name) for name in names}
        for key, value in params.items():
            if not isinstance(value, _LITERALS):
                raise TypeError(
                    f"{cls.__name__}: parameter {key}={value!r} must be a number, string, "
                    "bool or None (parameters are part of the type's identity)"
                )
        self.__dict__["_params"] = params

    @property
    def type_parameters(self) -> dict[str, Any]:
        """This type's parameters by name (``{"freq": 16000}``)."""
        return dict(self.__dict__.get("_params", {}))

    @classmethod
    def description(cls) -> str:
        """What the elements mean: the class docstring's first line."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else cls.__name__

    def compare(self, second: ElementType) -> NeuralTypeComparisonResult:
        """How ``second`` fits where ``self`` is expected.

        SAME (same class, parameters agree; ``None`` matches anything), GREATER (``second``
        is a subclass: accepted), LESS (``second`` is a base class: not accepted),
        SAME_TYPE_INCOMPATIBLE_PARAMS or INCOMPATIBLE.
        """
        first_t, second_t = type(self), type(second)
        if first_t is second_t:
            mine, theirs = self.type_parameters, second.type_parameters
            if mine.keys() != theirs.keys():
                return NeuralTypeComparisonResult.SAME_TYPE_INCOMPATIBLE_PARAMS
            for key, value in mine.items():
                other = theirs[key]
                if value is not None and other is not None and value != other:
                    return NeuralTypeComparisonResult.SAME_TYPE_INCOMPATIBLE_PARAMS
            return NeuralTypeComparisonResult.SAME
        if issubclass(second_t, first_t):
            return NeuralTypeComparisonResult.GREATER
        if issubclass(first_t, second_t):
            return NeuralTypeComparisonResult.LESS
        return NeuralTypeComparisonResult.INCOMPATIBLE

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        """A tensor of ``shape`` holding plausible values, for ``input_example()`` and export.

        Float noise by default (seeded, so examples repeat); integer and boolean types
        override this. ``length`` is the longest time/sequence axis of the example.
        """
        import torch

        generator = torch.Generator().manual_seed(0)
        return torch.randn(shape, generator=generator)

    # -- identity ---------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (type(self), tuple(sorted(self.type_parameters.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ElementType):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        params = self.type_parameters
        if not params or all(v is None for v in params.values()):
            return type(self).__name__
        names = type(self).parameters
        if tuple(params) == names:
            values = list(params.values())
            while values and values[-1] is None:  # trailing "any" parameters say nothing
                values.pop()
            inner = ", ".join(repr(v) for v in values)
        else:
            inner = ", ".join(f"{k}={v!r}" for k, v in params.items() if v is not None)
        return f"{type(self).__name__}({inner})"


class VoidType(ElementType):
    """Elements of any meaning: a port of VoidType accepts every element type.

    The compatibility is one way: a VoidType value given to a port that wants a specific
    element type is INCOMPATIBLE, since nothing says what the numbers mean.
    """

    def compare(self, second: ElementType) -> NeuralTypeComparisonResult:
        return NeuralTypeComparisonResult.SAME


class ChannelType(ElementType):
    """Values along a channel or feature axis: the base of features and representations."""


class EncodedRepresentation(ChannelType):
    """Hidden features produced by an encoder."""


class EmbeddedType(EncodedRepresentation):
    """Embedding vectors looked up or projected from discrete inputs."""


class LogitsType(ElementType):
    """Unnormalised scores, before a softmax."""


class LogprobsType(ElementType):
    """Log-probabilities (the output of a log-softmax)."""


class ProbsType(ElementType):
    """Probabilities in [0, 1]."""


class LabelsType(ElementType):
    """Integer class labels (targets)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.zeros(shape, dtype=torch.long)


class PredictionsType(LabelsType):
    """Labels predicted by a model."""


class LengthsType(ElementType):
    """Valid lengths of the sequences in a batch (integers)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.full(shape, length, dtype=torch.long)


class LossType(ElementType):
    """A loss value to minimise."""


class IndexType(ElementType):
    """Integer indices into a table (a vocabulary, a codebook, a list)."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.zeros(shape, dtype=torch.long)


class MaskType(ElementType):
    """A mask: non-zero (or True) where the values are valid."""

    def example_tensor(self, shape: tuple[int, ...], *, length: int = 1) -> torch.Tensor:
        import torch

        return torch.ones(shape, dtype=torch.bool)


#: The core's element types by name (what ``ganglion._builtin.element_types`` registers).
CORE_ELEMENT_TYPES: tuple[type[ElementType], ...] = (
    ElementType,
    VoidType,
    ChannelType,
    EncodedRepresentation,
    EmbeddedType,
    LogitsType,
    LogprobsType,
    ProbsType,
    LabelsType,
    PredictionsType,
    LengthsType,
    LossType,
    IndexType,
    MaskType,
)
