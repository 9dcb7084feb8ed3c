"""English text normalisation: written text -> the lowercase words a speaker would say, with
the punctuation that marks pauses (``, . ? !``).

What is read how (roughly in the order the rules apply):

* Typography: curly quotes and apostrophes, dashes, ellipses and odd spaces become plain ASCII;
  accented Latin letters lose their accents (``café`` -> ``cafe``).
* Abbreviations: titles before a capitalised name (``Dr. Smith`` -> ``doctor smith``, ``St.
  Louis`` -> ``saint louis``, ``Mr``/``Mrs``/``Ms`` with or without the period), the same
  abbreviations elsewhere as places (``Main St.`` -> ``main street``, ``Elm Dr.`` -> ``elm
  drive``), ``etc. e.g. i.e. vs. approx. No. 5``, month abbreviations, company suffixes;
  dotted acronyms are spelled (``U.S.A.`` -> ``u s a``). A period that ends the text stays.
* Dates ``2024-03-15`` -> ``march fifteenth, twenty twenty four``.
* Phone numbers (``555-0123``, ``555-123-4567``, ``(555) 123-4567``, ``1-800-555-0199``) are
  read digit by digit, ``0`` as ``zero``, with a pause (comma) between the groups.
* Times ``3:30`` -> ``three thirty``, ``3:05`` -> ``three oh five``, ``3:00`` -> ``three
  o'clock``; ``am``/``pm`` after a time or a number -> ``a m``/``p m``.
* Currency ``$3.50`` -> ``three dollars fifty cents``, ``£2`` -> ``two pounds``, ``€0.99`` ->
  ``ninety nine cents``, ``$2.5 million`` -> ``two point five million dollars``, ``¥`` yen,
  ``50¢`` -> ``fifty cents``.
* Percentages ``12.5%`` -> ``twelve point five percent``; a few units after a number (``km``,
  ``kg``, ``mph``, ``GB``, ``°C`` ...) -> their names, singular after ``1``.
* Ordinals ``1st`` -> ``first``, ``22nd`` -> ``twenty second``.
* Ranges of two integers ``5-10`` -> ``five to ten``; fractions ``3/4`` -> ``three quarters``
  (numerator below a denominator of at most 16), ``½ ¼ ¾``.
* Signed and decimal numbers: ``-5`` -> ``minus five``, ``3.5`` -> ``three point five`` (the
  fraction digit by digit), ``.5`` -> ``point five``.
* Integers: ``1,234,567`` (thousands separators) and integers of up to nine digits are read
  as cardinals (``471`` -> ``four hundred seventy one``); four-digit integers from 1100 to
  2099 are read as years (``1984`` -> ``nineteen eighty four``, ``2005`` -> ``two thousand
  five``; write ``1,984`` for the count); longer digit strings and strings with a leading
  zero are read digit by digit (``0471`` -> ``zero four seven one``). **Digit strings**: a
  space-separated sequence of digits is read digit by digit, each digit being a number on its
  own (``4 7 1`` -> ``four seven one``), which is how the ASR digit model's transcripts read.
* Symbols: ``&`` and, ``+`` plus, ``=`` equals, ``@`` at, ``#5`` number five, ``%`` percent,
  ``°`` degrees, ``~5`` about five; ``/`` and hyphens between words separate words
  (``well-known`` -> ``well known``); dashes, ``; :`` and brackets become a comma (a pause);
  double quotes and apostrophes that are not inside a word are removed; ``a.b`` inside a word
  (``example.com``) -> ``example dot com``.
* Everything else that is not a letter, a space or ``, . ? !`` cannot be read: it is
  dropped, and :func:`normalize_text` names it in :attr:`Normalized.dropped`.

Runs of punctuation collapse to the strongest mark (``?`` over ``!`` over ``.`` over ``,``)
and punctuation before the first word is removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ganglion_tts.text.numbers import cardinal, decimal, digits, ordinal, year

__all__ = ["Normalized", "normalize", "normalize_text"]


@dataclass(frozen=True)
class Normalized:
    """The result of :func:`normalize_text`."""

    #: lowercase words separated by single spaces, ``, . ? !`` attached to the word before
    text: str
    #: characters that could not be read and were dropped, each once, in order of appearance
    dropped: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """The normalised form of ``text`` (see the module docstring for the rules)."""
    return normalize_text(text).text


def normalize_text(text: str) -> Normalized:
    """Normalise ``text`` and say which characters were dropped."""
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects a str, got {type(text).__name__}")
    text = _clean_characters(text)
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return _finish(text)


# -- typography ------------------------------------------------------------------------------

_CHAR_MAP = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"),
    **dict.fromkeys("\u2014\u2015", " - "),
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008", " "),
    **dict.fromkeys("\u2009\u200a\u202f\u205f\u3000\t\n\r\v\f", " "),
    **dict.fromkeys("\u200b\u200c\u200d\ufeff\u00ad", ""),
    "\u2026": "...",
    "\u00d7": " times ",
    "\u00df": "ss",
    "\u00e6": "ae",
    "\u00c6": "AE",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u00f8": "o",
    "\u00d8": "O",
    "\u0142": "l",
    "\u0141": "L",
    "\u0111": "d",
    "\u0110": "D",
    "\u00f0": "d",
    "\u00d0": "D",
    "\u00fe": "th",
    "\u00de": "Th",
    "\u0131": "i",
}


def _clean_characters(text: str) -> str:
    if text.isascii():
        return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    out = []
    for ch in text:
        if ch.isascii():
            out.append(" " if ch in "\t\n\r\v\f" else ch)
        elif ch in _CHAR_MAP:
            out.append(_CHAR_MAP[ch])
        elif unicodedata.category(ch).startswith("L"):
            # an accented Latin letter -> its base letter; other scripts stay (and are dropped)
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            out.append(base if base.isascii() and base.isalpha() else ch)
        else:
            out.append(ch)
    return "".join(out)


# -- helpers ---------------------------------------------------------------------------------


def _spaced(words: str) -> str:
    return f" {words} "


def _ends_text(match: re.Match[str]) -> bool:
    """Whether only spaces follow the match (its final period then also ends the text)."""
    return not match.string[match.end() :].strip()


def _with_period(match: re.Match[str], words: str) -> str:
    """``words``, spaced, keeping the period of a match that ends the text with one."""
    if match.group(0).endswith(".") and _ends_text(match):
        words += "."
    return _spaced(words)


# A number as written: thousands-separated or plain integer part, optional decimals.
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"


def _number_words(text: str) -> str:
    """Words of a number written with optional separators and decimals (no year reading)."""
    if "." in text:
        return decimal(text)
    return cardinal(int(text.replace(",", "")))


# -- abbreviations ---------------------------------------------------------------------------

_TITLES = {
    "Mr": "mister",
    "Mrs": "missus",
    "Ms": "miz",
    "Dr": "doctor",
    "Prof": "professor",
    "St": "saint",
    "Mt": "mount",
    "Ft": "fort",
    "Gen": "general",
    "Capt": "captain",
    "Lt": "lieutenant",
    "Sgt": "sergeant",
    "Col": "colonel",
    "Rev": "reverend",
    "Gov": "governor",
    "Sen": "senator",
    "Rep": "representative",
    "Pres": "president",
}
# Titles read as such before a capitalised word; without the period only these four.
_TITLE_RE = re.compile(r"(?<![\w.])(?:(" + "|".join(_TITLES) + r")\.|(Mrs|Mr|Ms|Dr)\b)(?=\s+[A-Z])")

_ABBREVIATIONS = {
    "St": "street",
    "Dr": "drive",
    "Mt": "mount",
    "Ave": "avenue",
    "Rd": "road",
    "Blvd": "boulevard",
    "Ln": "lane",
    "Jr": "junior",
    "Sr": "senior",
    "Inc": "incorporated",
    "Ltd": "limited",
    "Co": "company",
    "Corp": "corporation",
    "Bros": "brothers",
    "Dept": "department",
    "dept": "department",
    "approx": "approximately",
    "etc": "et cetera",
    "vs": "versus",
    "Jan": "january",
    "Feb": "february",
    "Mar": "march",
    "Apr": "april",
    "Jun": "june",
    "Jul": "july",
    "Aug": "august",
    "Sep": "september",
    "Sept": "september",
    "Oct": "october",
    "Nov": "november",
    "Dec": "december",
    "Mr": "mister",
    "Mrs": "missus",
    "Ms": "miz",
    "Prof": "professor",
}
_ABBREVIATION_RE = re.compile(r"(?<![\w.])(" + "|".join(_ABBREVIATIONS) + r")\.")
_LATIN_RE = re.compile(r"(?<![\w.])(e\.\s?g|i\.\s?e)\.", re.IGNORECASE)
_VS_RE = re.compile(r"(?<![\w.])vs(?![\w.])", re.IGNORECASE)
_NUMBER_ABBR_RE = re.compile(r"(?<![\w.])(No|no|Nos|nos)\.\s?(?=\d)")
_ACRONYM_RE = re.compile(r"(?<![\w.])((?:[A-Za-z]\.){2,})")
_INITIAL_RE = re.compile(r"(?<![\w.])([A-Z])\.(?=\s+[A-Z])")


def _title(m: re.Match[str]) -> str:
    return _spaced(_TITLES[m.group(1) or m.group(2)])


def _abbreviation(m: re.Match[str]) -> str:
    return _with_period(m, _ABBREVIATIONS[m.group(1)])


def _latin(m: re.Match[str]) -> str:
    words = "for example" if m.group(1)[0] in "eE" else "that is"
    return _with_period(m, words)


def _acronym(m: re.Match[str]) -> str:
    return _with_period(m, " ".join(m.group(1).replace(".", "")))


# -- dates, phone numbers, times -------------------------------------------------------------

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DATE_RE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")


def _date(m: re.Match[str]) -> str:
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0).replace("-", " ")
    return _spaced(f"{_MONTHS[mo - 1]} {ordinal(d)}, {year(y)}")


_PHONE_RE = re.compile(
    r"(?<![\d-])(?:(\+?1)[-. ])?(?:\((\d{3})\)\s?|(\d{3})[-. ])(\d{3})[-. ](\d{4})(?![\d-])"
    r"|(?<![\d-])(\d{3})-(\d{4})(?![\d-])"
)


def _phone(m: re.Match[str]) -> str:
    groups = [g for g in m.groups() if g]
    return _spaced(", ".join(digits(g) for g in groups))


_TIME_RE = re.compile(
    r"(?<![\d:.])(\d{1,2}):(\d{2})(?![\d:])(?:\s?([AaPp])\.?[Mm]\b\.?)?"
    r"|(?<![\d:.,])(\d{1,2})\s?([AaPp])\.?[Mm]\b\.?"
)


def _time(m: re.Match[str]) -> str:
    if m.group(4):  # "5pm"
        return _with_period(m, f"{cardinal(int(m.group(4)))} {m.group(5).lower()} m")
    hour, minute, half = int(m.group(1)), int(m.group(2)), m.group(3)
    if hour > 23 or minute > 59:
        return m.group(0).replace(":", " ")
    if minute == 0:
        words = cardinal(hour) + ("" if half else " o'clock")
    elif minute < 10:
        words = f"{cardinal(hour)} oh {cardinal(minute)}"
    else:
        words = f"{cardinal(hour)} {cardinal(minute)}"
    if half:
        return _with_period(m, f"{words} {half.lower()} m")
    return _spaced(words)


# -- money, percentages, units ---------------------------------------------------------------

# sign -> (unit, units, subunit, subunits); yen has no subunit in use.
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", None, None),
}
_SCALE_WORDS = r"thousand|million|billion|trillion"
_MONEY_RE = re.compile(
    r"((?<![\w.,])-)?([$£€¥])\s?(" + _NUM + r"|\.\d+)(?:\s?(" + _SCALE_WORDS + r")\b)?",
    re.IGNORECASE,
)
_CENTS_RE = re.compile(r"(?<![\d.,])(\d+)\s?¢")


def _money(m: re.Match[str]) -> str:
    minus = "minus " if m.group(1) else ""
    unit, units, sub, subs = _CURRENCIES[m.group(2)]
    amount, scale = m.group(3), m.group(4)
    if scale:
        return _spaced(f"{minus}{_number_words(amount)} {scale.lower()} {units}")
    whole_text, _, frac = amount.partition(".")
    whole = int(whole_text.replace(",", "") or 0)
    if frac and (sub is None or len(frac) > 2):
        return _spaced(f"{minus}{decimal(amount)} {units}")
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{cardinal(whole)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{cardinal(cents)} {sub if cents == 1 else subs}")
    return _spaced(minus + " ".join(parts))


def _cents(m: re.Match[str]) -> str:
    n = int(m.group(1))
    return _spaced(f"{cardinal(n)} {'cent' if n == 1 else 'cents'}")


_PERCENT_RE = re.compile(r"((?<![\w.,])-)?(" + _NUM + r"|\.\d+)\s?%")


def _percent(m: re.Match[str]) -> str:
    minus = "minus " if m.group(1) else ""
    return _spaced(f"{minus}{_number_words(m.group(2))} percent")


# unit (lowercase) -> (singular, plural)
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "khz": ("kilohertz", "kilohertz"),
    "mhz": ("megahertz", "megahertz"),
    "ghz": ("gigahertz", "gigahertz"),
    "hz": ("hertz", "hertz"),
    "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "tb": ("terabyte", "terabytes"),
    "°c": ("degree celsius", "degrees celsius"),
    "°f": ("degree fahrenheit", "degrees fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT_RE = re.compile(
    r"(" + _NUM + r")\s?(" + "|".join(re.escape(u) for u in _UNITS) + r")(?![a-z0-9])",
    re.IGNORECASE,
)


def _unit(m: re.Match[str]) -> str:
    singular, plural = _UNITS[m.group(2).lower()]
    return f"{m.group(1)} {singular if m.group(1) == '1' else plural} "


# -- ordinals, ranges, fractions, plain numbers ----------------------------------------------

_ORDINAL_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_RANGE_RE = re.compile(r"(?<![\w.,-])(\d+)-(\d+)(?![\d.,-]?\d)")
_FRACTION_RE = re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})(?![\d/])")
_VULGAR_RE = re.compile(r"(\d)?\s?([½¼¾])")
_VULGAR = {"½": ("a half", "one half"), "¼": ("a quarter", "one quarter"),
           "¾": ("three quarters", "three quarters")}  # fmt: skip
_NEGATIVE_RE = re.compile(r"(?<![\w.,])-(?=\.?\d)")
_DECIMAL_RE = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)?\.\d+")
_INTEGER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+")


def _ordinal(m: re.Match[str]) -> str:
    return _spaced(ordinal(int(m.group(1).replace(",", ""))))


def _range(m: re.Match[str]) -> str:
    return f" {m.group(1)} to {m.group(2)} "


def _fraction(m: re.Match[str]) -> str:
    num, den = int(m.group(1)), int(m.group(2))
    if not 0 < num < den <= 16:
        return f" {m.group(1)} {m.group(2)} "
    if den == 2:
        name = "half" if num == 1 else "halves"
    elif den == 4:
        name = "quarter" if num == 1 else "quarters"
    else:
        name = ordinal(den) + ("" if num == 1 else "s")
    return _spaced(f"{cardinal(num)} {name}")


def _vulgar(m: re.Match[str]) -> str:
    after_number, alone = _VULGAR[m.group(2)]
    if m.group(1):
        return f"{m.group(1)} and {after_number} "
    return _spaced(alone)


def _decimal(m: re.Match[str]) -> str:
    return _spaced(decimal(m.group(0)))


def _integer(m: re.Match[str]) -> str:
    text = m.group(0)
    if "," in text:
        return _spaced(cardinal(int(text.replace(",", ""))))
    if (len(text) > 1 and text[0] == "0") or len(text) > 9:
        return _spaced(digits(text))
    n = int(text)
    if len(text) == 4 and 1100 <= n <= 2099:
        return _spaced(year(n))
    return _spaced(cardinal(n))


# -- symbols ---------------------------------------------------------------------------------

_SYMBOL_WORDS = {
    "&": "and",
    "+": "plus",
    "=": "equals",
    "@": "at",
    "%": "percent",
    "°": "degrees",
    "$": "dollars",
    "£": "pounds",
    "€": "euros",
    "¥": "yen",
    "¢": "cents",
}
_SYMBOL_RE = re.compile("[" + re.escape("".join(_SYMBOL_WORDS)) + "]")
_NUMBER_SIGN_RE = re.compile(r"#\s?(?=\d)")
_ABOUT_RE = re.compile(r"~\s?(?=\d)")
_DOT_RE = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")


def _symbol(m: re.Match[str]) -> str:
    return _spaced(_SYMBOL_WORDS[m.group(0)])


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]] = [
    (_LATIN_RE, _latin),
    (_NUMBER_ABBR_RE, " number "),
    (_TITLE_RE, _title),
    (_ABBREVIATION_RE, _abbreviation),
    (_VS_RE, " versus "),
    (_TIME_RE, _time),
    (_ACRONYM_RE, _acronym),
    (_INITIAL_RE, r"\1"),
    (_DATE_RE, _date),
    (_PHONE_RE, _phone),
    (_MONEY_RE, _money),
    (_CENTS_RE, _cents),
    (_PERCENT_RE, _percent),
    (_UNIT_RE, _unit),
    (_ORDINAL_RE, _ordinal),
    (_RANGE_RE, _range),
    (_FRACTION_RE, _fraction),
    (_VULGAR_RE, _vulgar),
    (_NUMBER_SIGN_RE, " number "),
    (_ABOUT_RE, " about "),
    (_NEGATIVE_RE, " minus "),
    (_DECIMAL_RE, _decimal),
    (_INTEGER_RE, _integer),
    (_SYMBOL_RE, _symbol),
    (_DOT_RE, " dot "),
]


# -- the last pass: lowercase, pauses, dropping what cannot be read --------------------------

_PAUSES = dict.fromkeys(";:()[]{}", ",")
_SEPARATORS = set('"/_')  # removed without a word: quotes, slashes, underscores
_STRENGTH = {",": 0, ".": 1, "!": 2, "?": 3}
_TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)*|[,.?!]")
_FREE_DASH_RE = re.compile(r"(?:^|\s)-+(?=\s|$)|-{2,}")


def _finish(text: str) -> Normalized:
    text = _FREE_DASH_RE.sub(" , ", text.lower())
    kept: list[str] = []
    dropped: dict[str, None] = {}
    for ch in text:
        if "a" <= ch <= "z" or ch in " ',.?!":
            kept.append(ch)
        elif ch == "-" or ch in _SEPARATORS:
            kept.append(" ")
        elif ch in _PAUSES:
            kept.append(" , ")
        else:
            dropped[ch] = None
            kept.append(" ")
    words: list[str] = []
    for token in _TOKEN_RE.findall("".join(kept)):
        if token in _STRENGTH:
            if not words:
                continue  # punctuation before the first word says nothing
            last = words[-1]
            if last[-1] in _STRENGTH:  # a run of marks: keep the strongest
                if _STRENGTH[token] > _STRENGTH[last[-1]]:
                    words[-1] = last[:-1] + token
            else:
                words[-1] = last + token
        else:
            words.append(token)
    return Normalized(" ".join(words), tuple(dropped))
