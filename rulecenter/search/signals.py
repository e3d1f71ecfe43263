"""Rule and rule-category edits that do not go through a service (the admin's plain model forms)."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from rulecenter.rules.models import Rule, RuleCategory

from . import documents
from .models import OutboxEntry
from .services import search_outbox_add


@receiver(post_save, sender=Rule, dispatch_uid="search_rule_saved")
def rule_saved(*, instance: Rule, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        with transaction.atomic():
            search_outbox_add(entity=OutboxEntry.Entity.RULE, object_ids=[instance.pk])


@receiver(post_save, sender=RuleCategory, dispatch_uid="search_rule_category_saved")
def rule_category_saved(*, instance: RuleCategory, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or created:
        return
    # A renamed or moved category changes what its rules (and those of its subcategories) are filed under.
    subtree = {instance.pk}
    children = {instance.pk}
    while children:
        children = (
            set(RuleCategory.objects.filter(parent_id__in=children).values_list("id", flat=True)) - subtree
        )
        subtree |= children
    with transaction.atomic():
        search_outbox_add(
            entity=OutboxEntry.Entity.RULE, object_ids=documents.rule_pks_in_categories(subtree)
        )
