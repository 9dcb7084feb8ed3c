"""Built-in plugin: torch's own optimizers and learning-rate schedulers.

Registered through the same hooks as every plugin's, by lazy ``"module:attr"`` paths, so
listing them imports no torch. Each name carries its params dataclass from
:mod:`ganglion.optim.params`.
"""

from ganglion.hookspecs import hookimpl

# registered name -> torch.optim class
_TORCH_OPTIMIZERS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "rprop": "Rprop",
}

_TORCH_SCHEDULERS = ("StepLR", "ExponentialLR", "ReduceLROnPlateau", "CyclicLR")


@hookimpl
def register_optimizers(register):
    for name, cls in _TORCH_OPTIMIZERS.items():
        register(name, f"torch.optim:{cls}", params=f"ganglion.optim.params:{cls}Params")


@hookimpl
def register_schedulers(register):
    for name in _TORCH_SCHEDULERS:
        register(
            name,
            f"torch.optim.lr_scheduler:{name}",
            params=f"ganglion.optim.params:{name}Params",
        )
