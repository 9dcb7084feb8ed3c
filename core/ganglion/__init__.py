"""ganglion: build, train, package and compose conversational-AI models from plugins.

Importing ``ganglion`` is cheap: it never imports torch. The public names below are
attributes resolved on first access (PEP 562), so ``from ganglion import ModelPT`` imports
the heavy machinery only when you ask for it.

Plugin authors need only :data:`hookimpl` (see :mod:`ganglion.hookspecs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganglion.hookspecs import hookimpl
from ganglion.lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first access. A public name that is not a
# module never shares a submodule's name: importing that submodule would rebind the attribute
# to the module (so the decorator lives in ``typechecking``, exp_manager in ``training``).
_LAZY: dict[str, str] = {
    # plugins and registries
    "plugins": "ganglion.plugins",
    "get_plugin_manager": "ganglion.plugins:get_plugin_manager",
    "get_registry": "ganglion.plugins:registry",
    "register_optimizer": "ganglion.plugins:register_optimizer",
    "register_scheduler": "ganglion.plugins:register_scheduler",
    "register_module": "ganglion.plugins:register_module",
    "register_model": "ganglion.plugins:register_model",
    "register_element_type": "ganglion.plugins:register_element_type",
    "register_loss": "ganglion.plugins:register_loss",
    "register_artifact_handler": "ganglion.plugins:register_artifact_handler",
    "register_config": "ganglion.plugins:register_config",
    # errors
    "GanglionError": "ganglion.errors:GanglionError",
    "UnknownNameError": "ganglion.errors:UnknownNameError",
    "DuplicateNameError": "ganglion.errors:DuplicateNameError",
    "PluginLoadError": "ganglion.errors:PluginLoadError",
    "ConfigError": "ganglion.errors:ConfigError",
    # neural types, modules, models (heavy: torch)
    "NeuralType": "ganglion.types:NeuralType",
    "NeuralTypeComparisonResult": "ganglion.types:NeuralTypeComparisonResult",
    "typecheck": "ganglion.typechecking:typecheck",
    "NeuralModule": "ganglion.module:NeuralModule",
    "ModelPT": "ganglion.model:ModelPT",
    "PretrainedModelInfo": "ganglion.pretrained:PretrainedModelInfo",
    "ArchiveError": "ganglion.archive:ArchiveError",
    "exp_manager": "ganglion.training.experiment:exp_manager",
    # neural graphs
    "NeuralGraph": "ganglion.graph.neural_graph:NeuralGraph",
    "OperationMode": "ganglion.graph.mode:OperationMode",
    "AppState": "ganglion.graph.naming:AppState",
}

__all__ = ["__version__", "hookimpl", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from ganglion.errors import (  # noqa: F401
        ConfigError,
        DuplicateNameError,
        GanglionError,
        PluginLoadError,
        UnknownNameError,
    )
    from ganglion.plugins import (  # noqa: F401
        get_plugin_manager,
        register_optimizer,
        register_scheduler,
    )
    from ganglion.plugins import (
        registry as get_registry,  # noqa: F401
    )


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
