"""Tokenizers behind one interface (:class:`TokenizerSpec`): ``char``, ``word``, sentencepiece
BPE and unigram, Hugging Face BPE and WordPiece; each trained from text files and saved as a
directory that :func:`load_tokenizer` reads back (and a model's archive packs).

Importing this package imports neither sentencepiece nor Hugging Face ``tokenizers`` (nor
torch): a library is imported when a tokenizer of its type is first trained or loaded.

Example::

    from ganglion_nlp.tokenizers import load_tokenizer, train_tokenizer

    tok = train_tokenizer("sentencepiece-bpe", ["train.txt"], "tok", vocab_size=8000)
    tok.text_to_ids("a small domesticated cat")    # [..] (no <cls>/<sep>: the dataset adds them)
    load_tokenizer("tok").ids_to_text(ids)
"""

from ganglion_nlp.tokenizers.base import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    TokenizerSpec,
)
from ganglion_nlp.tokenizers.errors import (
    TokenizerError,
    TokenizerLoadError,
    TokenizerTrainingError,
)
from ganglion_nlp.tokenizers.factory import (
    TOKENIZER_TYPES,
    load_tokenizer,
    tokenizer_class,
    train_tokenizer,
)
from ganglion_nlp.tokenizers.storage import META_FILE

__all__ = [
    "CLS_ID",
    "MASK_ID",
    "META_FILE",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "TOKENIZER_TYPES",
    "UNK_ID",
    "TokenizerError",
    "TokenizerLoadError",
    "TokenizerSpec",
    "TokenizerTrainingError",
    "load_tokenizer",
    "tokenizer_class",
    "train_tokenizer",
]
