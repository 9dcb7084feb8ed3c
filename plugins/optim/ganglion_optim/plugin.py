"""ganglion-optim's hooks: its optimizers, schedulers and optimizer presets, by lazy path.

Nothing here imports torch: each name points at ``"module:attr"`` strings that ganglion
imports the first time the name is used.
"""

from ganglion import hookimpl

#: optimizer name -> (class, params dataclass)
OPTIMIZERS: dict[str, tuple[str, str]] = {
    "novograd": ("ganglion_optim.novograd:Novograd", "ganglion_optim.novograd:NovogradParams"),
    "lamb": ("ganglion_optim.lamb:Lamb", "ganglion_optim.lamb:LambParams"),
    "lion": ("ganglion_optim.lion:Lion", "ganglion_optim.lion:LionParams"),
}

#: scheduler name -> (class, params dataclass); every one lives in ganglion_optim.schedulers
SCHEDULERS: dict[str, tuple[str, str]] = {
    name: (f"ganglion_optim.schedulers:{name}", f"ganglion_optim.schedulers:{name}Params")
    for name in (
        "WarmupPolicy",
        "WarmupHoldPolicy",
        "SquareAnnealing",
        "CosineAnnealing",
        "NoamAnnealing",
        "WarmupAnnealing",
        "InverseSquareRootAnnealing",
        "SquareRootAnnealing",
        "PolynomialDecayAnnealing",
        "PolynomialHoldDecayAnnealing",
    )
}


@hookimpl
def register_optimizers(register):
    for name, (cls, params) in OPTIMIZERS.items():
        register(name, cls, params=params)


@hookimpl
def register_schedulers(register):
    for name, (cls, params) in SCHEDULERS.items():
        register(name, cls, params=params)


@hookimpl
def register_configs(register):
    # presets of the model/optim config group for this plugin's optimizers (lamb, lion)
    register("optim", "pkg://ganglion_optim.conf")
