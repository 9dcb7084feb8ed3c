"""Registers an optimizer name that the sample plugin registers too."""

from ganglion import hookimpl


@hookimpl
def register_optimizers(register):
    register("sample_sgd", "torch.optim:SGD")
    register("clash_only_sgd", "torch.optim:SGD")
