"""What a case's attachment is, read from its first bytes, not from its name or the browser's say-so.

Images (PNG, JPEG, GIF, WebP) and PDFs only; the name's extension must agree with what the bytes are, so an
executable named `.pdf` (`MZ…`), a script named `.png` or an HTML page named `.jpg` is refused. Sizes are
bounded by settings; the file is read once, in chunks, for its signature, size and SHA-256.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.uploadedfile import UploadedFile

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
EXTENSIONS = {
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "application/pdf": {".pdf"},
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True, slots=True)
class Inspected:
    name: str
    content_type: str | None  # None: not one of the types accepted
    size: int
    sha256: str
    extension_agrees: bool


def sniff(head: bytes) -> str | None:
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_name(name: str) -> str:
    """The file's own name, without any folder, control or reserved character, at most 100 characters."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .") or "attachment"
    stem, dot, extension = cleaned.rpartition(".")
    if dot and len(extension) <= 10:
        return f"{stem[: 100 - len(extension) - 1]}.{extension}"
    return cleaned[:100]


def inspect(upload: UploadedFile[bytes], *, limit: int) -> Inspected:
    """Read the upload (up to `limit` + 1 bytes: a larger one is known to be too large without reading it)."""
    digest = hashlib.sha256()
    head = b""
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        size += len(chunk)
        if size > limit:
            break
        digest.update(chunk)
    upload.seek(0)
    name = clean_name(upload.name or "")
    content_type = sniff(head)
    extension = PurePosixPath(name).suffix.lower()
    agrees = content_type is not None and extension in EXTENSIONS[content_type]
    return Inspected(
        name=name, content_type=content_type, size=size, sha256=digest.hexdigest(), extension_agrees=agrees
    )
