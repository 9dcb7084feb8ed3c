"""``OperationMode``: what a graph is for, and which graphs nest into which."""

from __future__ import annotations

import enum

__all__ = ["OperationMode"]


class OperationMode(enum.Enum):
    """A graph's operation mode (NeMo's names).

    ``training`` graphs run their modules in train mode, ``evaluation`` graphs in eval mode
    without gradients, ``both`` graphs as their modules are (``train()`` / ``eval()``).
    A ``both`` graph nests into any graph; ``training`` only into ``training`` and
    ``evaluation`` only into ``evaluation``.
    """

    training = "training"
    evaluation = "evaluation"
    both = "both"

    def nests_into(self, outer: OperationMode) -> bool:
        """Whether a graph of this mode may be called inside a graph of mode ``outer``."""
        return self is OperationMode.both or self is outer

    @classmethod
    def parse(cls, value: object, *, where: str = "operation_mode") -> OperationMode:
        """``value`` as a mode: a mode, or its name (``"training"``, ``"evaluation"``,
        ``"both"``, any case)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        from ganglion.graph.errors import GraphError

        raise GraphError(
            f"{where}: {value!r} is not an operation mode; use OperationMode.training, "
            "OperationMode.evaluation or OperationMode.both (or their names)"
        )

    def __str__(self) -> str:
        return self.value
