"""Hydra configs of ganglion-optim: presets of the model/optim group (lamb, lion)."""
