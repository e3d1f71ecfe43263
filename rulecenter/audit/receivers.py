"""The audit chain listens to the change hook: every announced change becomes one entry, in its transaction."""

from typing import Any

from rulecenter.common.changes import ContentChange

from .services import audit_record


def content_changed(*, change: ContentChange, **kwargs: Any) -> None:
    audit_record(change=change)
