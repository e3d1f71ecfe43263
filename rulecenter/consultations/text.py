"""Texts of consultations: members' reasons kept as plain text."""

import re
import unicodedata

# C0 controls but tab and newline, DEL, zero-width characters and bidirectional overrides (which can make
# a text read differently on screen than it is stored).
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(value: str) -> str:
    """The text to store: NFC, newlines as \\n, tabs as spaces, invisible characters gone, trimmed."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text.replace("\t", " "))
    return _BLANK_LINES.sub("\n\n", text).strip()
