"""The tantivy index on this node: its schema, its generations on disk, a shared reader and the writer.

Layout under `RULECENTER_SEARCH_INDEX_DIR`:

    CURRENT          the name of the live generation (replaced atomically)
    g<time>-<id>/    one tantivy index per generation; `rulecenter reindex` builds a new one beside
                     the live one and switches CURRENT when it is complete

Readers (web processes) look at CURRENT and the generation's meta.json before each search — two stat
calls — and reload when either changed, so a commit or a switch is seen at once without a watcher thread.
Only one process may write a generation at a time: tantivy's lock file says who (`open_writer`).
"""

import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring  # the encoder's own escaping when ensure_ascii=False
from pathlib import Path
from typing import Any

import tantivy
from django.conf import settings

from .. import segmenter

logger = logging.getLogger(__name__)

# Bump when the fields change: an index with another version is rebuilt, never read.
SCHEMA_VERSION = 2
META_FILE = "rulecenter.json"
CURRENT_FILE = "CURRENT"

# Between the title's copies and the body: a token no query contains, so no phrase spans them.
TITLE_BREAK = "|"
SOURCE_ANNOUNCEMENT = "announcement"
SOURCE_RULE = "rule"
_OPTIONAL_INSTANTS = ("visible_at", "effective_at", "superseded_at")
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class IndexMissing(Exception):
    """This node has no usable index yet (never built, or built with another schema)."""


def build_schema() -> tantivy.Schema:
    words = segmenter.ANALYZER_NAME
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", tokenizer_name="raw")  # a:<id> or r:<rule id> (all its versions)
    builder.add_integer_field("pk", indexed=True, fast=True)  # the announcement's or the version's id
    builder.add_text_field("source", tokenizer_name="raw")  # announcement | rule
    builder.add_text_field("type", tokenizer_name="raw")  # the announcement's or the rule's kind
    builder.add_text_field("category", tokenizer_name="raw")  # category slug, and its ancestors' for rules
    # Title and body as one field, the title written twice first: a title word counts more in BM25, and a
    # query is a plain intersection of term lists, which tantivy walks fastest (see docs/search.md).
    builder.add_text_field("text", tokenizer_name=words)
    # Instants as Unix seconds: tantivy-py reads integer fast fields, not date ones.
    builder.add_integer_field("date", fast=True)  # published (announcements), takes effect (rules)
    builder.add_integer_field("visible_at", fast=True)  # a rule version is public from its notice
    builder.add_integer_field("effective_at", fast=True)
    builder.add_integer_field("superseded_at", fast=True)  # when the next version takes effect
    builder.add_unsigned_field("rule_id", fast=True)
    builder.add_float_field("recency", fast=True)  # the factor a hit's score is multiplied by
    builder.add_bytes_field("data", stored=True)  # what a result shows, as JSON
    return builder.build()


# Not frozen: a frozen dataclass's __init__ costs 7× as much, and a rebuild makes one per document.
@dataclass(slots=True)
class IndexDocument:
    """One document of the index, ready to write; `data` is shown with a hit."""

    key: str
    pk: int
    source: str
    type: str
    categories: tuple[str, ...]
    title: str  # already segmented (segmenter.index_text)
    body: str
    date: datetime
    recency: float
    data: dict[str, Any]
    rule_id: int = 0
    visible_at: datetime | None = None
    effective_at: datetime | None = None
    superseded_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """The document's fields as plain values, cheap to pickle (`to_tantivy` makes the document)."""
        fields: dict[str, Any] = {
            "key": self.key,
            "pk": self.pk,
            "source": self.source,
            "type": self.type,
            "text": f"{self.title} {TITLE_BREAK} {self.title} {TITLE_BREAK} {self.body}",
            "date": epoch(self.date),
            "rule_id": self.rule_id,
            "recency": self.recency,
            "data": json_bytes(self.data),
        }
        if self.categories:
            fields["category"] = list(self.categories)
        for name in _OPTIONAL_INSTANTS:
            value = getattr(self, name)
            if value is not None:
                fields[name] = epoch(value)
        return fields

    def to_tantivy(self) -> tantivy.Document:
        return to_tantivy(self.fields())


def json_bytes(data: dict[str, Any]) -> bytes:
    """`data` as compact JSON, exactly as `json.dumps(data, ensure_ascii=False, separators=(",", ":"))`.

    An object of strings and integers (every announcement's) is written here, several times faster than
    the json module's encoder; anything else goes through that encoder.
    """
    parts = []
    for key, value in data.items():
        kind = type(value)
        if type(key) is not str or (kind is not str and kind is not int):
            return _JSON.encode(data).encode()
        parts.append(f"{encode_basestring(key)}:{encode_basestring(value) if kind is str else value}")
    return ("{" + ",".join(parts) + "}").encode()


def to_tantivy(fields: dict[str, Any]) -> tantivy.Document:
    """The tantivy document of `IndexDocument.fields()`."""
    # `add_*` calls, typed here: `Document.from_dict` costs twice as much (it converts bytes one by one).
    doc = tantivy.Document()
    add_text, add_integer = doc.add_text, doc.add_integer
    add_text("key", fields["key"])
    add_integer("pk", fields["pk"])
    add_text("source", fields["source"])
    add_text("type", fields["type"])
    for category in fields.get("category", ()):
        add_text("category", category)
    add_text("text", fields["text"])
    add_integer("date", fields["date"])
    for name in _OPTIONAL_INSTANTS:
        if name in fields:
            add_integer(name, fields[name])
    doc.add_unsigned("rule_id", fields["rule_id"])
    doc.add_float("recency", fields["recency"])
    doc.add_bytes("data", fields["data"])
    return doc


def epoch(value: datetime) -> int:
    return int(value.timestamp())


# ------------------------------------------------------------------------------------------- generations


def root() -> Path:
    return Path(settings.RULECENTER_SEARCH_INDEX_DIR)


def generation_path(generation: str) -> Path:
    return root() / generation


def current_generation() -> str | None:
    try:
        name = (root() / CURRENT_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return name or None


def set_current(generation: str) -> None:
    """Switch readers to `generation` in one atomic rename."""
    target = root() / CURRENT_FILE
    temporary = target.with_name(f".{CURRENT_FILE}.{os.getpid()}.tmp")
    temporary.write_text(generation, encoding="ascii")
    os.replace(temporary, target)


def generation_usable(generation: str) -> bool:
    try:
        meta = json.loads((generation_path(generation) / META_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    return meta.get("schema") == SCHEMA_VERSION and tantivy.Index.exists(str(generation_path(generation)))


def generation_create() -> str:
    """A new, empty generation directory with the current schema."""
    name = f"g{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    path = generation_path(name)
    path.mkdir(parents=True)
    tantivy.Index(build_schema(), path=str(path), reuse=False)
    meta = {"schema": SCHEMA_VERSION, "created_at": datetime.now(UTC).isoformat()}
    (path / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return name


def generations_remove(*, keep: set[str]) -> None:
    """Delete the generations not in `keep`. Readers still holding one keep their open files (POSIX)."""
    if not root().is_dir():
        return
    for path in root().iterdir():
        if path.is_dir() and path.name.startswith("g") and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def open_index(generation: str) -> tantivy.Index:
    index = tantivy.Index.open(str(generation_path(generation)))
    segmenter.register(index)
    index.config_reader(reload_policy="manual")
    return index


def open_writer(
    index: tantivy.Index, *, wait_seconds: float = 0.0, heap_bytes: int = 32_000_000, threads: int = 1
) -> tantivy.IndexWriter | None:
    """The generation's single writer, or None if another process still holds it after `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return index.writer(heap_size=heap_bytes, num_threads=threads)
        except ValueError as error:
            if "LockBusy" not in str(error):
                raise
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------ reader


@dataclass(slots=True)
class _Opened:
    root: str
    generation: str
    index: tantivy.Index
    schema: tantivy.Schema
    stamp: tuple[int, int, int]


class Reader:
    """The process's view of the live generation, reloaded when CURRENT or a commit changes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened: _Opened | None = None

    @staticmethod
    def _stamp(base: str, generation: str) -> tuple[int, int, int]:
        current = os.stat(os.path.join(base, CURRENT_FILE))
        try:
            meta = os.stat(os.path.join(base, generation, "meta.json")).st_mtime_ns
        except FileNotFoundError:
            meta = 0
        return current.st_mtime_ns, current.st_ino, meta

    def holds_index(self) -> bool:
        """Whether an index is open, without looking at the files (`get` does)."""
        return self._opened is not None

    def get(self) -> tuple[tantivy.Index, tantivy.Schema, str]:
        """The live index and its schema; raises IndexMissing when this node has none."""
        opened = self._opened
        if opened is not None and opened.root == str(settings.RULECENTER_SEARCH_INDEX_DIR):
            try:
                if self._stamp(opened.root, opened.generation) == opened.stamp:
                    return opened.index, opened.schema, opened.generation
            except FileNotFoundError:
                pass
        with self._lock:
            return self._refresh()

    def _refresh(self) -> tuple[tantivy.Index, tantivy.Schema, str]:
        generation = current_generation()
        if generation is None or not generation_usable(generation):
            self._opened = None
            raise IndexMissing(generation or "")
        base = str(root())
        stamp = self._stamp(base, generation)
        opened = self._opened
        if opened is not None and opened.root == base and opened.generation == generation:
            opened.index.reload()
            opened.stamp = stamp
        else:
            index = open_index(generation)
            opened = _Opened(base, generation, index, index.schema, stamp)
            self._opened = opened
        return opened.index, opened.schema, opened.generation

    def forget(self) -> None:
        with self._lock:
            self._opened = None


reader = Reader()
