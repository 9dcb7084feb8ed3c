"""Hooks of the sample plugin: lazy targets only, so listing it imports nothing heavy."""

from ganglion import hookimpl


@hookimpl
def register_optimizers(register):
    register(
        "sample_sgd",
        "ganglion_sample.optim:SampleSGD",
        params="ganglion_sample.optim:SampleSGDParams",
    )


@hookimpl
def register_element_types(register):
    register("PitchContourType", "ganglion_sample.types:PitchContourType")


@hookimpl
def register_modules(register):
    register("SampleEncoder", "ganglion_sample.modules:SampleEncoder")
