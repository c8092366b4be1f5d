"""Redaction of phone numbers, ID-card numbers and e-mail addresses typed into public text.

Open311 GET answers are public, so what citizens type into descriptions and addresses is shown
only after this pass. A number counts when it is not glued to other digits: `13800138000` is a
mobile, `2026113800138000` (a longer run) is not. Pure functions, no I/O.
"""

import re

REDACTED = "[已隐去]"

# Full-width forms map one to one onto ASCII, so indexes in the shadow text are indexes in the original.
_SHADOW = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},
        "Ｘ": "X",
        "ｘ": "x",
        "＋": "+",
        "（": "(",
        "）": ")",
        "－": "-",
        "—": "-",
        "–": "-",
        "‐": "-",
        "\u3000": " ",
    }
)
_SEP = r"[ \-]?"  # one optional space or hyphen between digits: `138 0013 8000`, `0574-87654321`
# Every match starts with a digit not preceded by a digit and ends with a digit not followed by one
# (or with the ID card's check letter), so replacing a match never makes a new one appear.
_START = r"(?<![0-9])"
_END = r"(?![0-9])"
_CC = rf"(?:(?:00)?86\)?{_SEP}\(?)"  # country code 86 (the `+` or `(+` before it stays)
_MOBILE = rf"{_START}(?:{_CC}|0)?1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}{_END}"  # 0 before: long-distance form
_LANDLINE = (
    rf"{_START}(?:{_CC}0?|0)[1-9][0-9]{{1,2}}\)?{_SEP}\(?"  # area code: 0574, (0574), +86 574
    rf"[1-9](?:{_SEP}[0-9]){{6,7}}{_END}"  # local number: 7 or 8 digits
)
_ID_CARD = rf"{_START}[0-9](?:{_SEP}[0-9]){{16}}{_SEP}(?:[0-9]{_END}|[Xx])"
_EMAIL = r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}"
_OPENERS = "+(＋（"
SENSITIVE = re.compile(f"{_EMAIL}|{_ID_CARD}|{_LANDLINE}|{_MOBILE}")


def _shadow(text: str) -> str:
    return text.translate(_SHADOW)


def _may_hold_any(text: str) -> bool:
    return "@" in text or any(c.isdigit() for c in text)


def contains_sensitive(text: str) -> bool:
    """Whether the text holds a phone number, an ID-card number or an e-mail address."""
    return _may_hold_any(text) and SENSITIVE.search(_shadow(text)) is not None


def redact(text: str) -> str:
    """The text with every phone number, ID-card number and e-mail address replaced by `[已隐去]`."""
    if not _may_hold_any(text):
        return text
    while True:
        spans = [m.span() for m in SENSITIVE.finditer(_shadow(text))]
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            # Take a `+` or `(` just before the number with it: `(0574)`, `+86`, `(+86)`.
            while start > last and text[start - 1] in _OPENERS:
                start -= 1
            parts.append(text[last:start])
            parts.append(REDACTED)
            last = end
        parts.append(text[last:])
        text = "".join(parts)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)
