"""The consultation results runner: when a window closes, gather its opinions and draft the 结果反馈.

Creating a consultation enqueues `tasks.draft_due_results` for its close; that task and `rulecenter
run_due_consultations` run `consultation_results_run_due`. Gathering (collecting the opinions from the
standing votes, grouping near-duplicates) and drafting the report live here because closing does them; the
services re-export them for the admin, which runs them again after a review. Services → tasks → this
module: nothing here imports either, so there is no way back.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require
from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM, Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce
from rulecenter.common.text import local_minute

from . import selectors
from .models import Consultation, Opinion, OpinionCluster, Vote
from .report import result_report
from .similarity import near_duplicate_groups, representative

if TYPE_CHECKING:
    from rulecenter.announcements.models import Category

logger = logging.getLogger(__name__)

RESULT_NOT_CLOSED = "意见征集将于 {closes_at} 截止，截止后才能起草结果反馈。"
RESULT_ALREADY_PUBLISHED = "结果反馈“{title}”已发布，不能再重新生成；如需更正，请撤回后再生成。"


@transaction.atomic
def opinions_collect(*, consultation: Consultation) -> int:
    """Bring the opinions in line with the standing votes' reasons; returns how many opinions there are.

    A new reason becomes a pending opinion; a reason changed by a re-vote goes back to pending (its review
    was of other words); a reason withdrawn removes its opinion.
    """
    existing = {opinion.vote_id: opinion for opinion in Opinion.objects.filter(consultation=consultation)}
    created: list[Opinion] = []
    changed: list[Opinion] = []
    count = 0
    for vote_id, choice, reason in (
        Vote.objects.filter(consultation=consultation)
        .exclude(reason="")
        .values_list("id", "choice", "reason")
    ):
        count += 1
        opinion = existing.pop(vote_id, None)
        if opinion is None:
            created.append(Opinion(consultation=consultation, vote_id=vote_id, choice=choice, text=reason))
        elif opinion.text != reason or opinion.choice != choice:
            if opinion.text != reason:
                opinion.text, opinion.cluster = reason, None
                opinion.verdict, opinion.code = Opinion.Verdict.PENDING, ""
                opinion.reviewed_by, opinion.reviewed_at = None, None
            opinion.choice = choice
            changed.append(opinion)
    Opinion.objects.bulk_create(created, batch_size=500)
    Opinion.objects.bulk_update(
        changed,
        ["text", "choice", "cluster", "verdict", "code", "reviewed_by", "reviewed_at"],
        batch_size=500,
    )
    Opinion.objects.filter(pk__in=[opinion.pk for opinion in existing.values()]).delete()
    return count


@transaction.atomic
def opinions_cluster(*, consultation: Consultation) -> list[OpinionCluster]:
    """Group near-duplicate opinions; a group keeps the cluster (and its response) most of it was in."""
    opinions = list(Opinion.objects.filter(consultation=consultation).order_by("id"))
    texts = [opinion.text for opinion in opinions]
    threshold = settings.RULECENTER_CONSULTATION_DUPLICATE_SIMILARITY / 100
    old = {cluster.pk: cluster for cluster in OpinionCluster.objects.filter(consultation=consultation)}
    claimed: set[int] = set()
    fresh: list[OpinionCluster] = []
    kept: list[OpinionCluster] = []
    members_of: list[tuple[OpinionCluster, list[Opinion]]] = []
    for group in near_duplicate_groups(texts, threshold=threshold):
        members = [opinions[index] for index in group]
        previous = Counter(
            opinion.cluster_id
            for opinion in members
            if opinion.cluster_id in old and opinion.cluster_id not in claimed
        ).most_common(1)
        rep = opinions[representative(texts, group)]
        if previous:
            cluster = old[previous[0][0]]
            claimed.add(cluster.pk)
            cluster.representative, cluster.size = rep, len(members)
            kept.append(cluster)
        else:
            cluster = OpinionCluster(consultation=consultation, representative=rep, size=len(members))
            fresh.append(cluster)
        members_of.append((cluster, members))
    OpinionCluster.objects.bulk_create(fresh, batch_size=500)
    OpinionCluster.objects.bulk_update(kept, ["representative", "size"], batch_size=500)
    regrouped: list[Opinion] = []
    for cluster, members in members_of:
        for opinion in members:
            if opinion.cluster_id != cluster.pk:
                opinion.cluster = cluster
                regrouped.append(opinion)
    Opinion.objects.bulk_update(regrouped, ["cluster"], batch_size=500)
    OpinionCluster.objects.filter(consultation=consultation).exclude(
        pk__in=claimed | {c.pk for c in fresh}
    ).delete()
    return [cluster for cluster, _members in members_of]


def _news_category() -> "Category":
    slug = settings.RULECENTER_CONSULTATION_NEWS_CATEGORY
    category = announcement_selectors.category_by_slug(slug)
    return category or announcement_services.category_ensure(actor=SYSTEM, slug=slug, name=_("意见征集"))


@transaction.atomic
def consultation_result_draft(
    *, actor: Actor, consultation: Consultation, now: datetime | None = None
) -> Announcement:
    """Write the 结果反馈 from the ledger as a draft announcement for an editor to publish.

    Run again after opinions were reviewed and answered, it rewrites the same draft; a published report is
    never rewritten.
    """
    role_require(actor, Role.EDITOR)
    now = now or timezone.now()
    stored = Consultation.objects.select_for_update().get(pk=consultation.pk)
    if stored.closes_at > now:
        raise ValidationError(_(RESULT_NOT_CLOSED).format(closes_at=local_minute(stored.closes_at)))
    versions = list(stored.versions.select_related("rule").order_by("rule__title"))
    report = result_report(
        ledger=selectors.consultation_ledger(consultation=stored),
        versions=versions,
        options=selectors.options_of(stored),
        site_url=settings.RULECENTER_SITE_URL,
    )
    announcement = stored.result_announcement
    if announcement is not None and announcement.is_published:
        raise ValidationError(_(RESULT_ALREADY_PUBLISHED).format(title=announcement.title))
    if announcement is None:
        announcement = announcement_services.announcement_create(
            actor=actor,
            title=report.title,
            body=report.body,
            kind=Announcement.Kind.CONSULTATION_RESULT,
            category=_news_category(),
            status=Announcement.Status.DRAFT,
        )
    else:
        announcement.title, announcement.body = report.title, report.body
        announcement = announcement_services.announcement_save(actor=actor, announcement=announcement)
    stored.result_announcement, stored.result_drafted_at = announcement, now
    stored.save(update_fields=["result_announcement", "result_drafted_at"])
    content_changed_announce(
        kind=ContentKind.CONSULTATION,
        ids=[stored.pk],
        action=ChangeAction.RESULT_DRAFTED,
        actor=actor,
        rule_ids=[version.rule_id for version in versions],
        data={"announcement": announcement.pk, "title": report.title, "body": report.body},
    )
    return announcement


@transaction.atomic
def consultation_close(*, consultation: Consultation, now: datetime | None = None) -> Announcement:
    """What happens when a window closes: collect and group the opinions, then draft the report."""
    opinions_collect(consultation=consultation)
    opinions_cluster(consultation=consultation)
    announcement = consultation_result_draft(actor=SYSTEM, consultation=consultation, now=now)
    pending = Opinion.objects.filter(consultation=consultation, verdict=Opinion.Verdict.PENDING).count()
    if pending:
        logger.info("consultation %s closed: %s opinions await review", consultation.pk, pending)
    return announcement


@transaction.atomic
def consultation_results_run_due(*, now: datetime | None = None) -> list[Consultation]:
    """Close every consultation whose window has ended and has no report yet; safe to run any number of times."""
    now = now or timezone.now()
    due = list(selectors.due_for_result(at=now).select_for_update())
    for consultation in due:
        consultation.result_announcement = consultation_close(consultation=consultation, now=now)
        consultation.result_drafted_at = now
        late = now - consultation.closes_at
        if late > timedelta(seconds=settings.RULECENTER_LIFECYCLE_GRACE_SECONDS):
            logger.warning("consultation %s result drafted late (%s after close)", consultation.pk, late)
    return due
