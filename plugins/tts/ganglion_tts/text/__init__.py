"""ganglion-tts's text frontend: English normalisation, the CMU pronouncing dictionary, a
learned letter-to-sound fallback and the phoneme vocabulary; offline, no torch.

    from ganglion_tts.text import TextFrontend
    result = TextFrontend().parse("Dr. Smith paid $3.50 on the 22nd.")
    result.tokens, result.ids, result.notes

Attributes are imported on first access, and the dictionary and the letter-to-sound model are
read on first use, so importing this package costs nothing.
"""

from ganglion.lazy import lazy_attributes

_LAZY = {
    "TextFrontend": "ganglion_tts.text.frontend:TextFrontend",
    "FrontendResult": "ganglion_tts.text.frontend:FrontendResult",
    "Lexicon": "ganglion_tts.text.lexicon:Lexicon",
    "G2P": "ganglion_tts.text.g2p:G2P",
    "Pronunciation": "ganglion_tts.text.g2p:Pronunciation",
    "LetterToSound": "ganglion_tts.text.lts:LetterToSound",
    "PhonemeVocabulary": "ganglion_tts.text.phonemes:PhonemeVocabulary",
    "normalize_text": "ganglion_tts.text.normalize:normalize_text",
    "Normalized": "ganglion_tts.text.normalize:Normalized",
    "TTSTextError": "ganglion_tts.text.errors:TTSTextError",
    "LexiconError": "ganglion_tts.text.errors:LexiconError",
    "G2PModelError": "ganglion_tts.text.errors:G2PModelError",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
