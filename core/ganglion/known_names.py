"""Names that ganglion's own plugin distributions provide.

Used only to improve the unknown-name error when that distribution is not installed
("Unknown optimizer 'novograd'. It is provided by the 'ganglion-optim' distribution").
Kept as plain data so the lookup imports nothing.
"""

KNOWN: dict[str, dict[str, str]] = {
    "optimizers": {name: "ganglion-optim" for name in ("novograd", "lamb", "lion")},
    "schedulers": {
        name: "ganglion-optim"
        for name in (
            "WarmupPolicy",
            "WarmupHoldPolicy",
            "SquareAnnealing",
            "CosineAnnealing",
            "NoamAnnealing",
            "WarmupAnnealing",
            "InverseSquareRootAnnealing",
            "SquareRootAnnealing",
            "PolynomialDecayAnnealing",
            "PolynomialHoldDecayAnnealing",
        )
    },
    "models": {
        "EncDecCTCModel": "ganglion-asr",
        "TextClassificationModel": "ganglion-nlp",
        "MaskedLMModel": "ganglion-nlp",
        **dict.fromkeys(("FastPitchModel", "HifiGanModel", "GriffinLimModel"), "ganglion-tts"),
    },
    "modules": {
        **dict.fromkeys(
            (
                "AudioToMelSpectrogramPreprocessor",
                "SpectrogramAugmentation",
                "ConvASREncoder",
                "ConvASRDecoder",
            ),
            "ganglion-asr",
        ),
        **dict.fromkeys(
            (
                "TokenEmbedding",
                "TransformerEncoder",
                "SequenceClassificationHead",
                "TokenClassificationHead",
                "MaskedLMHead",
            ),
            "ganglion-nlp",
        ),
        **dict.fromkeys(
            (
                "AlignmentEncoder",
                "FastPitchModule",
                "GriffinLim",
                "HifiGanGenerator",
                "MultiPeriodDiscriminator",
                "MultiScaleDiscriminator",
            ),
            "ganglion-tts",
        ),
    },
    "element_types": {
        **dict.fromkeys(
            (
                "AudioSignal",
                "SpectrogramType",
                "MelSpectrogramType",
                "MFCCSpectrogramType",
                "AcousticEncodedRepresentation",
            ),
            "ganglion-asr",
        ),
        **dict.fromkeys(
            ("TokenIndex", "StringType", "StringLabel", "BoolType", "EmbeddedTextType"),
            "ganglion-nlp",
        ),
        **dict.fromkeys(
            (
                "RegressionValuesType",
                "TokenDurationType",
                "TokenLogDurationType",
                "SequenceToSequenceAlignmentType",
                "LogDeterminantType",
                "NormalDistributionSamplesType",
            ),
            "ganglion-tts",
        ),
    },
    "losses": {"CTCLoss": "ganglion-asr"},
}
