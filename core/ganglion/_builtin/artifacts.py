"""Built-in plugin: archive artifact handlers for plain files and directories."""

from ganglion.hookspecs import hookimpl


@hookimpl
def register_artifact_handlers(register):
    register("file", "ganglion.archive.artifacts:FileArtifactHandler")
    register("directory", "ganglion.archive.artifacts:DirectoryArtifactHandler")
