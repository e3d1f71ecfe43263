"""A developer's machine and `make run`: the production shape (DEBUG off) unless DEBUG=1 is set.

No key lives in the source: without SECRET_KEY in the environment, the first start writes a random one to
`RULECENTER_VAR_DIR/secret_key` (readable by its owner only) and every later start reads it, so sessions
survive restarts and no two machines share a key.
"""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import VAR_DIR


def _local_secret_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
        # A link is atomic and never replaces: of two processes starting at once, both keep the first key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


if not os.environ.get("SECRET_KEY"):
    SECRET_KEY = _local_secret_key(VAR_DIR / "secret_key")

# No mail server named: `make run` prints the e-mails it would send on the worker's console instead of
# retrying a server that is not there.
if not os.environ.get("EMAIL_BACKEND") and not os.environ.get("EMAIL_HOST"):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
