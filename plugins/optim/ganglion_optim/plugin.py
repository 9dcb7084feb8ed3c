"""ganglion-optim's hooks: registers its optimizers and schedulers (lazily, by path)."""

from ganglion import hookimpl

OPTIMIZERS: dict[str, tuple[str, str]] = {}
SCHEDULERS: dict[str, tuple[str, str]] = {}


@hookimpl
def register_optimizers(register):
    for name, (cls, params) in OPTIMIZERS.items():
        register(name, cls, params=params)


@hookimpl
def register_schedulers(register):
    for name, (cls, params) in SCHEDULERS.items():
        register(name, cls, params=params)
