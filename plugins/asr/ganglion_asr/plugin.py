"""ganglion-asr's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl


@hookimpl
def register_configs(register):
    register("asr", "pkg://ganglion_asr.conf")


_MODULES = {
    "AudioToMelSpectrogramPreprocessor": "ganglion_asr.modules.features",
    "SpectrogramAugmentation": "ganglion_asr.modules.augment",
    "ConvASREncoder": "ganglion_asr.modules.conv_asr",
    "ConvASRDecoder": "ganglion_asr.modules.conv_asr",
}


@hookimpl
def register_modules(register):
    for name, module in _MODULES.items():
        register(name, f"{module}:{name}")


@hookimpl
def register_models(register):
    register("EncDecCTCModel", "ganglion_asr.models:EncDecCTCModel")


@hookimpl
def register_losses(register):
    register("CTCLoss", "ganglion_asr.losses:CTCLoss")


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


@hookimpl
def register_pretrained(register):
    from pathlib import Path

    register("asr", str(Path(__file__).with_name("pretrained.yaml")))
