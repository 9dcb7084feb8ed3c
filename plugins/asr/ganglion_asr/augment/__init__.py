"""Waveform augmentation for training data: speed, pitch (vocal-tract length), additive
noise, room reverberation, telephone channel, random EQ and gain.

A dataset config's ``augmentor`` mapping builds an :class:`AudioAugmentor`, applied to each
training utterance before features are computed (see ``plugins/asr/README.md``).
"""

from ganglion_asr.augment.augmentor import (
    AudioAugmentor,
    process_augmentations,
)
from ganglion_asr.augment.perturbations import (
    EqualizerPerturbation,
    GainPerturbation,
    NoisePerturbation,
    Perturbation,
    PitchPerturbation,
    ReverbPerturbation,
    SpeedPerturbation,
    TelephonePerturbation,
    coloured_noise,
)

__all__ = [
    "AudioAugmentor",
    "EqualizerPerturbation",
    "GainPerturbation",
    "NoisePerturbation",
    "Perturbation",
    "PitchPerturbation",
    "ReverbPerturbation",
    "SpeedPerturbation",
    "TelephonePerturbation",
    "coloured_noise",
    "process_augmentations",
]
