"""A hook that registers a name, then raises: nothing it registered may survive."""

from ganglion import hookimpl


@hookimpl
def register_losses(register):
    register("half_registered_loss", "torch.nn:MSELoss")
    raise RuntimeError("loss catalogue file is corrupt")
