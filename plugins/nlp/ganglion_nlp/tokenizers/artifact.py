"""The ``tokenizer`` artifact handler: packs a tokenizer directory into a model's archive.

A model registers its tokenizer with
``self.register_artifact("tokenizer.dir", cfg.tokenizer.dir, handler="tokenizer")``; the
archive then holds every file of the directory, and a restored model gets the directory
unpacked from the archive (``tokenizer.dir`` points there), so it tokenizes exactly as the
saved one did, wherever it runs, with no path of the training machine involved.
"""

from __future__ import annotations

from pathlib import Path

from ganglion.archive.artifacts import DirectoryArtifactHandler
from ganglion_nlp.tokenizers.errors import TokenizerLoadError
from ganglion_nlp.tokenizers.factory import load_tokenizer
from ganglion_nlp.tokenizers.storage import META_FILE

__all__ = ["TokenizerArtifactHandler"]


class TokenizerArtifactHandler(DirectoryArtifactHandler):
    """A tokenizer directory (``ganglion_tokenizer.json`` and its library's files), packed
    file by file; :meth:`check` loads it, so a model cannot register a broken tokenizer."""

    def check(self, src: Path) -> None:
        src = Path(src)
        if src.is_file():
            hint = f" (give {src.parent} instead)" if (src.parent / META_FILE).is_file() else ""
            raise TokenizerLoadError(
                f"tokenizer artifact {src} is a file; the 'tokenizer' handler packs a tokenizer "
                f"directory, the one holding {META_FILE}{hint}"
            )
        load_tokenizer(src)

    def basename(self, src: Path) -> str:
        return Path(src).name or "tokenizer"
