"""ganglion-asr's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl


@hookimpl
def register_configs(register):
    register("asr", "pkg://ganglion_asr.conf")


_ELEMENT_TYPES = (
    "AudioSignal",
    "SpectrogramType",
    "MelSpectrogramType",
    "MFCCSpectrogramType",
    "AcousticEncodedRepresentation",
)


@hookimpl
def register_element_types(register):
    for name in _ELEMENT_TYPES:
        register(name, f"ganglion_asr.types:{name}")
