"""Models: :class:`ModelPT`, the base class of every ganglion model, and what it is made of."""

from ganglion.model.base import ModelPT, _resolve_class, _resolve_model_class

__all__ = ["ModelPT"]
