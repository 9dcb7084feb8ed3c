"""Models: :class:`ModelPT`, the base class of every ganglion model, and what it is made of.

- :mod:`~ganglion.model.base`: ``ModelPT`` (config, data and optimization set-up, Lightning
  hooks, save and restore);
- :mod:`~ganglion.model.data`: dataloaders from a config's dataset sections;
- :mod:`~ganglion.model.artifacts`: files a model declares, found unpacked while restoring;
- :mod:`~ganglion.model.classes`: the model and dataset classes a config's ``_target_`` names;
- :mod:`~ganglion.model.restore`: rebuilding a model from a ``.ganglion`` archive;
- :mod:`~ganglion.model.loading`: building a model for given weights without allocating or
  initialising what they replace (meta device, ``load_state_dict(assign=True)``).
"""

from ganglion.model.base import ModelPT
from ganglion.model.classes import resolve_class, resolve_model_class
from ganglion.model.data import LOADER_KEYS

__all__ = ["LOADER_KEYS", "ModelPT", "resolve_class", "resolve_model_class"]
