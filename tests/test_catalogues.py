"""The apps' English catalogues agree: one (msgctxt, msgid) has one English everywhere.

Django merges every app's catalogue into one, so a msgid two apps translate differently reads with only one of
the two translations on every page. Where a word means different things, its uses carry a context (pgettext).
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted(ROOT.glob("rulecenter/*/locale/en/LC_MESSAGES/django.po"))

# A keyword and its first quoted string, then any continuation strings on the lines that follow.
_ENTRY_LINE = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+("(?:[^"\\]|\\.)*")\s*$')
_CONTINUATION = re.compile(r'^("(?:[^"\\]|\\.)*")\s*$')

Key = tuple[str | None, str]


def _unquote(literal: str) -> str:
    value = ast.literal_eval(literal)
    assert isinstance(value, str)
    return value


def parse_po(path: Path) -> dict[Key, str]:
    """Map (msgctxt, msgid) to its msgstr; plural forms are joined with "|". The header (msgid "") is left out."""
    entries: dict[Key, str] = {}
    fields: dict[str, str] = {}
    current: str | None = None

    def flush() -> None:
        if "msgid" in fields:
            msgid = fields["msgid"]
            if msgid:
                plurals = sorted(key for key in fields if key.startswith("msgstr["))
                msgstr = "|".join(fields[key] for key in plurals) if plurals else fields.get("msgstr", "")
                entries[(fields.get("msgctxt"), msgid)] = msgstr
        fields.clear()

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := _ENTRY_LINE.match(line):
            keyword = match.group(1)
            # A msgctxt, or a msgid without one before it, starts the next entry.
            if keyword == "msgctxt" or (keyword == "msgid" and "msgctxt" not in fields) or keyword in fields:
                flush()
            current = keyword
            fields[keyword] = _unquote(match.group(2))
        elif (match := _CONTINUATION.match(line)) and current is not None:
            fields[current] += _unquote(match.group(1))
        else:
            raise AssertionError(f"{path.relative_to(ROOT)}:{number}: cannot read {raw!r}")
    flush()
    return entries


def test_catalogues_are_found() -> None:
    assert len(CATALOGUES) >= 10
    assert all(parse_po(path) for path in CATALOGUES)


def test_parser_reads_contexts_and_continuations(tmp_path: Path) -> None:
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '# a comment\nmsgid "订阅"\nmsgstr "Subscribe"\n\n'
        'msgctxt "noun"\nmsgid "订阅"\nmsgstr ""\n"Subscr"\n"iption"\n\n'
        'msgid "{n} 秒"\nmsgid_plural "{n} 秒"\nmsgstr[0] "{n} second"\nmsgstr[1] "{n} seconds"\n',
        encoding="utf-8",
    )
    assert parse_po(po) == {
        (None, "订阅"): "Subscribe",
        ("noun", "订阅"): "Subscription",
        (None, "{n} 秒"): "{n} second|{n} seconds",
    }


def test_one_english_for_each_message() -> None:
    seen: dict[Key, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in CATALOGUES:
        app = path.parts[-5]
        for key, msgstr in parse_po(path).items():
            seen[key][msgstr].append(app)
    conflicts = [
        f"{'[' + ctx + '] ' if ctx else ''}{msgid}: "
        + "; ".join(f"{', '.join(apps)} → {msgstr!r}" for msgstr, apps in sorted(translations.items()))
        for (ctx, msgid), translations in sorted(
            seen.items(), key=lambda item: (item[0][0] or "", item[0][1])
        )
        if len(translations) > 1
    ]
    assert not conflicts, "Messages translated differently in two catalogues:\n" + "\n".join(conflicts)
