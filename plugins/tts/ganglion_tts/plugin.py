"""ganglion-tts's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl


@hookimpl
def register_configs(register):
    register("tts", "pkg://ganglion_tts.conf")


_MODULES = {
    "AlignmentEncoder": "ganglion_tts.modules.aligner",
    "FastPitchModule": "ganglion_tts.modules.fastpitch",
    "GriffinLim": "ganglion_tts.modules.griffin_lim",
    "HifiGanGenerator": "ganglion_tts.modules.hifigan",
    "MultiPeriodDiscriminator": "ganglion_tts.modules.hifigan",
    "MultiScaleDiscriminator": "ganglion_tts.modules.hifigan",
}


@hookimpl
def register_modules(register):
    for name, module in _MODULES.items():
        register(name, f"{module}:{name}")


_MODELS = {
    "FastPitchModel": "ganglion_tts.models.fastpitch",
    "HifiGanModel": "ganglion_tts.models.hifigan",
    "GriffinLimModel": "ganglion_tts.models.griffin_lim",
}


@hookimpl
def register_models(register):
    for name, module in _MODELS.items():
        register(name, f"{module}:{name}")


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
