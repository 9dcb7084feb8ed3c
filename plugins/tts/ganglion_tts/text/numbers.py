"""Numbers as English words (American style, no "and"): cardinals, ordinals, years, decimals
and digit-by-digit readings.

>>> cardinal(1_234_567)
'one million two hundred thirty four thousand five hundred sixty seven'
>>> ordinal(22), year(1984), year(2005), decimal("3.05"), digits("0471")
('twenty second', 'nineteen eighty four', 'two thousand five', 'three point zero five', 'zero four seven one')
"""

from __future__ import annotations

_SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# Short scale, one name per power of a thousand.
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion")
#: The largest magnitude read as a cardinal; larger numbers are read digit by digit.
MAX_CARDINAL = 1000 ** len(_SCALES) - 1

DIGIT_WORDS = tuple(_SMALL[:10])

# The last word of a cardinal -> its ordinal; the rest take "-th" ("-ieth" after "-y").
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_SMALL[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_SMALL[ones])
    elif rest or not words:
        words.append(_SMALL[rest])
    return words


def cardinal(n: int) -> str:
    """``n`` in words: ``-42`` -> ``"minus forty two"``; beyond the quintillions the digits
    are read one by one."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n == 0:
        return "zero"
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for power in range(len(groups) - 1, -1, -1):
        group = groups[power]
        if group:
            words += _below_thousand(group)
            if power:
                words.append(_SCALES[power])
    return " ".join(words)


def ordinal(n: int) -> str:
    """``n`` as an ordinal: ``1`` -> ``"first"``, ``22`` -> ``"twenty second"``,
    ``100`` -> ``"one hundredth"``."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year(n: int) -> str:
    """A year as it is said: ``1984`` -> ``"nineteen eighty four"``, ``1905`` -> ``"nineteen
    oh five"``, ``1900`` -> ``"nineteen hundred"``, ``2000``-``2009`` -> ``"two thousand
    (five)"``, ``2019`` -> ``"twenty nineteen"``. Outside 1000-9999 it is a cardinal."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009 or n % 1000 == 0:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    if low < 10:
        return f"{cardinal(high)} oh {_SMALL[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def digits(text: str) -> str:
    """Each digit of ``text`` as a word (other characters are skipped): ``"0471"`` ->
    ``"zero four seven one"``."""
    return " ".join(DIGIT_WORDS[int(c)] for c in text if c.isdigit())


def decimal(text: str) -> str:
    """A decimal written with a point, its fraction read digit by digit: ``"3.14"`` ->
    ``"three point one four"``, ``".5"`` -> ``"point five"``, ``"-0.5"`` -> ``"minus zero
    point five"``; thousands separators in the integer part are allowed (``"1,234.5"``)."""
    sign = ""
    if text.startswith("-"):
        sign, text = "minus ", text[1:]
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", "")
    words = [cardinal(int(whole))] if whole else []
    if fraction:
        words += ["point", digits(fraction)]
    return sign + " ".join(words)
