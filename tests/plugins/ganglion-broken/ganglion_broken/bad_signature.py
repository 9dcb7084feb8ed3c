"""A hook whose arguments do not match the specification."""

from ganglion import hookimpl


@hookimpl
def register_optimizers(register, device):
    register("never", "torch.optim:SGD")
