"""The outcome of comparing two neural types."""

from __future__ import annotations

import enum


class NeuralTypeComparisonResult(enum.Enum):
    """What ``expected.compare(given)`` found.

    ``expected`` is the type a port declares (the receiver), ``given`` the type offered to it.
    A port accepts a value when the result is :attr:`SAME` or :attr:`GREATER`
    (see :attr:`accepted`).
    """

    #: The types are the same (``VoidType`` elements in ``expected`` accept any elements).
    SAME = 0
    #: ``expected`` is a special case of ``given`` (``given``'s elements are more general):
    #: not accepted — a port asking for mel spectrograms cannot take any spectrogram.
    LESS = 1
    #: ``given`` is a special case of ``expected`` (a mel spectrogram where any spectrogram
    #: will do): accepted.
    GREATER = 2
    #: Same axis kinds in the same order, but a declared size differs.
    DIM_INCOMPATIBLE = 3
    #: The same axes in another order: a transpose would make the types the same.
    TRANSPOSE_SAME = 4
    #: Containers (lists of tensors) are nested to different depths, or a module returned a
    #: different number of values than it declares output ports.
    CONTAINER_SIZE_MISMATCH = 5
    #: Nothing in common: different axes or unrelated element types.
    INCOMPATIBLE = 6
    #: The same element type with different parameters (``AudioSignal(8000)`` vs
    #: ``AudioSignal(16000)``).
    SAME_TYPE_INCOMPATIBLE_PARAMS = 7
    #: No comparison was possible (a port declares no type).
    UNCHECKED = 8

    @property
    def accepted(self) -> bool:
        """True when a port declaring ``expected`` accepts a value of type ``given``."""
        return self is NeuralTypeComparisonResult.SAME or self is NeuralTypeComparisonResult.GREATER

    def __str__(self) -> str:
        return self.name
