"""ganglion-nlp's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl


@hookimpl
def register_configs(register):
    register("nlp", "pkg://ganglion_nlp.conf")


_MODULES = {
    "TokenEmbedding": "ganglion_nlp.modules.embedding",
    "TransformerEncoder": "ganglion_nlp.modules.transformer",
    "SequenceClassificationHead": "ganglion_nlp.modules.heads",
    "TokenClassificationHead": "ganglion_nlp.modules.heads",
    "MaskedLMHead": "ganglion_nlp.modules.heads",
}


@hookimpl
def register_modules(register):
    for name, module in _MODULES.items():
        register(name, f"{module}:{name}")


@hookimpl
def register_models(register):
    register("TextClassificationModel", "ganglion_nlp.models:TextClassificationModel")
    register("MaskedLMModel", "ganglion_nlp.models:MaskedLMModel")


_ELEMENT_TYPES = (
    "TokenIndex",
    "StringType",
    "StringLabel",
    "BoolType",
    "EmbeddedTextType",
)


@hookimpl
def register_element_types(register):
    for name in _ELEMENT_TYPES:
        register(name, f"ganglion_nlp.types:{name}")


@hookimpl
def register_artifact_handlers(register):
    register("tokenizer", "ganglion_nlp.tokenizers.artifact:TokenizerArtifactHandler")
