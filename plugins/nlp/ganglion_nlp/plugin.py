"""ganglion-nlp's hooks: what the plugin registers, named by lazy paths (no torch import)."""

from ganglion import hookimpl

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
