"""Search listens to the change hook: every announced change becomes outbox rows in the same transaction."""

from typing import Any

from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind
from rulecenter.rules import selectors as rule_selectors

from .models import OutboxEntry
from .services import search_outbox_add


def content_changed(*, change: ContentChange, **kwargs: Any) -> None:
    if change.action is ChangeAction.TRANSLATED:
        return  # the index holds the Chinese text, which a translation leaves as it is
    if change.kind is ContentKind.ANNOUNCEMENT:
        search_outbox_add(entity=OutboxEntry.Entity.ANNOUNCEMENT, object_ids=change.ids)
    elif change.kind is ContentKind.RULE:
        search_outbox_add(entity=OutboxEntry.Entity.RULE, object_ids=change.ids)
    elif change.kind is ContentKind.RULE_VERSION and change.action is not ChangeAction.CREATED:
        # A new draft is not public. A version and the one it supersedes change together in the index: the
        # rule is re-read whole.
        search_outbox_add(entity=OutboxEntry.Entity.RULE, object_ids=change.rule_ids)
    elif change.kind is ContentKind.RULE_CATEGORY and change.action is not ChangeAction.CREATED:
        # A renamed or moved category changes what its rules (and those of its subcategories) are filed under.
        search_outbox_add(
            entity=OutboxEntry.Entity.RULE,
            object_ids=rule_selectors.rule_ids_filed_under(category_ids=change.ids),
        )
