"""The model archive (``.ganglion`` file): one plain tar holding everything a model needs.

Its layout — config, artifacts, safetensors weights and a manifest of checksums in a tar
that ``tar tvf`` lists and ``tar xf`` unpacks — is described in :mod:`~ganglion.archive.format`.

Choices, and why:

* **No pickle, no code.** Weights are safetensors (:mod:`~ganglion.archive.weights`); the
  config is YAML read with the safe loader (aliases refused: no "billion laughs";
  :mod:`~ganglion.archive.parsing`), and OmegaConf resolvers in it are refused (an archive's
  config is stored resolved). Every ``_target_`` in it must pass the core's one ``_target_``
  policy (:mod:`ganglion.targets`: a registered name, a class of an installed plugin, or an
  explicitly allowed one): ``_target_: os.system`` is refused before anything is imported.
* **Read in place** (:mod:`~ganglion.archive.reading`). The tar's member headers give each
  member's byte range; the manifest, config and weights are read straight from those ranges.
  Nothing is extracted to a temp dir.
* **Only artifacts are unpacked** (:mod:`~ganglion.archive.artifacts`), because libraries such
  as sentencepiece want a real file path. They go to a content-addressed cache
  (``$GANGLION_CACHE/artifacts/<sha256>/<name>``): checksummed, written to a temp dir and
  renamed into place, shared by every archive and every process holding the same file, and
  never rewritten once there.
* **Checked before use.** Member paths that are absolute, contain ``..``, or are links,
  devices or duplicates are refused, as are members the manifest does not list; every
  member's sha256 is checked against the manifest as it is read. A refusal raises
  :class:`ArchiveError` (or a subclass) whose message says exactly what was refused, and
  happens before anything is written or built.
* **Fast.** A restore maps the file copy-on-write and makes the tensors views of it: no copy,
  no allocation (see :meth:`ModelArchive.read_weights` for the catch, and its ``mmap``
  argument). A file whose checksums were all verified before and that has not changed since
  is not rehashed (:mod:`~ganglion.archive.stamps`). Tensors are stored largest element size
  first, so each one is aligned for its dtype.
* **Atomic and durable** (:mod:`~ganglion.archive.atomic`). ``save_archive`` writes a hidden
  temp file in the destination directory, fsyncs it, renames it over the destination and
  fsyncs the directory: an interrupted save, or a power cut, leaves the old archive or the
  new one, never a half archive and never neither. Everything is done when it returns (no
  background work); a writer killed outright leaves a temp file that the next save into the
  directory removes.

Artifact kinds are pluggable: a plugin registers an :class:`ArtifactHandler` through the
``register_artifact_handlers`` hook (the core registers ``file`` and ``directory``).

Importing this package imports no torch; only reading or writing weights does.
"""

from ganglion.archive.artifacts import (
    ArchivedArtifact,
    ArtifactHandler,
    ArtifactSource,
    DirectoryArtifactHandler,
    FileArtifactHandler,
    get_artifact_handler,
)
from ganglion.archive.atomic import atomic_output, atomic_write_text
from ganglion.archive.config_paths import replace_artifact_references, set_config_value
from ganglion.archive.errors import (
    ArchiveChecksumError,
    ArchiveError,
    UnsafeArchiveError,
    refusal,
)
from ganglion.archive.format import (
    ARTIFACT_SCHEME,
    CONFIG_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    SUPPORTED_FORMAT_VERSIONS,
    WEIGHTS_NAME,
)
from ganglion.archive.policy import check_config
from ganglion.archive.reading import ENV_MMAP, ModelArchive
from ganglion.archive.stamps import ENV_VERIFY
from ganglion.archive.writing import save_archive

__all__ = [
    "ARTIFACT_SCHEME",
    "CONFIG_NAME",
    "ENV_MMAP",
    "ENV_VERIFY",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "SUPPORTED_FORMAT_VERSIONS",
    "WEIGHTS_NAME",
    "ArchiveChecksumError",
    "ArchiveError",
    "ArchivedArtifact",
    "ArtifactHandler",
    "ArtifactSource",
    "DirectoryArtifactHandler",
    "FileArtifactHandler",
    "ModelArchive",
    "UnsafeArchiveError",
    "atomic_output",
    "atomic_write_text",
    "check_config",
    "get_artifact_handler",
    "refusal",
    "replace_artifact_references",
    "save_archive",
    "set_config_value",
]
