"""ganglion-tts's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl

_ELEMENT_TYPES = (
    "RegressionValuesType",
    "TokenDurationType",
    "TokenLogDurationType",
    "SequenceToSequenceAlignmentType",
    "LogDeterminantType",
    "NormalDistributionSamplesType",
)


@hookimpl
def register_element_types(register):
    for name in _ELEMENT_TYPES:
        register(name, f"ganglion_tts.types:{name}")
