"""Built-in plugin: torch's own optimizers and learning-rate schedulers."""

from ganglion.hookspecs import hookimpl

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
        register(name, f"torch.optim:{cls}")


@hookimpl
def register_schedulers(register):
    for name in _TORCH_SCHEDULERS:
        register(name, f"torch.optim.lr_scheduler:{name}")
