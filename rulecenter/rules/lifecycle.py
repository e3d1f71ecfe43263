"""The rule lifecycle's runner: the transitions (公示, 生效, end of the buffer) that have fallen due.

The services schedule transitions; the worker's task (`tasks.run_due_lifecycle`) and `rulecenter run_due`
run this. Services → tasks → this module: nothing here imports either, so there is no way back.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM, Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce

from . import selectors
from .models import LifecycleEvent, RuleVersion

logger = logging.getLogger(__name__)


def version_changed(version: RuleVersion, action: ChangeAction, actor: Actor, **extra: object) -> None:
    """Announce a change of one version (the event names its rule, which a deleted row can no longer tell).

    The data is the version as it stands — an approval records the very text approved — plus `extra`.
    """
    content_changed_announce(
        kind=ContentKind.RULE_VERSION,
        ids=[version.pk],
        action=action,
        actor=actor,
        rule_ids=[version.rule_id],
        data={
            "rule": version.rule_id,
            "number": version.number,
            "text": version.text,
            "summary": version.summary,
            "major": version.major,
            "acknowledgment_required": version.acknowledgment_required,
            "notice_at": version.notice_at.isoformat() if version.notice_at else None,
            "effective_at": version.effective_at.isoformat() if version.effective_at else None,
            "buffer_ends_at": version.buffer_ends_at.isoformat() if version.buffer_ends_at else None,
            "bundle": version.bundle_id,
            "author": version.author_id,
            "approved_by": version.approved_by_id,
            "approved_at": version.approved_at.isoformat() if version.approved_at else None,
            "review_comment": version.review_comment,
            **extra,
        },
    )


def _chinese_date(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.year}年{local.month}月{local.day}日"


def _notice_announcement(versions: list[RuleVersion]) -> Announcement:
    """The news item of a notice, worded like the seed's first item."""
    first = versions[0]
    assert first.notice_at is not None
    assert first.effective_at is not None
    names = "和".join(f"《{v.rule.title}》" for v in versions)
    if len(versions) > 1:
        title = f"《{first.rule.title}》和其相关规则的更新公示"
    else:
        title = f"《{first.rule.title}》的更新公示"
    lines = [
        f"为保障平台经营秩序，平台将对{names}进行更新。"
        f"本次更新于{_chinese_date(first.notice_at)}公示，{_chinese_date(first.effective_at)}生效。",
        "",
    ]
    if first.buffer_ends_at:
        lines += [f"缓冲期至{_chinese_date(first.buffer_ends_at)}。", ""]
    for version in versions:
        lines.append(f"- 《{version.rule.title}》第 {version.number} 版：{version.summary or '见全文'}")
        lines.append(f"  全文：{settings.RULECENTER_SITE_URL}{version.get_absolute_url()}")
        if version.number > 1:
            diff_url = f"{version.rule.get_absolute_url()}diff/?from={version.number - 1}&to={version.number}"
            lines.append(f"  变更对比：{settings.RULECENTER_SITE_URL}{diff_url}")
    lines += ["", "如不接受本次修改，可在公示期内申请退出，并继续适用修改前的规则。"]
    # The notice concerns the segments its versions target — if every one of them targets some (a version
    # for everyone makes the notice one for everyone).
    targeted = selectors.version_segments(ids=[version.pk for version in versions])
    segments = (
        sorted({segment.slug for version in versions for segment in targeted[version.pk]})
        if all(version.pk in targeted for version in versions)
        else []
    )
    category = announcement_selectors.category_by_slug(settings.RULECENTER_RULE_NEWS_CATEGORY)
    if category is None:
        category = announcement_services.category_ensure(
            actor=SYSTEM, slug=settings.RULECENTER_RULE_NEWS_CATEGORY, name=_("规则变更")
        )
    return announcement_services.announcement_create(
        actor=SYSTEM,
        title=title,
        body="\n".join(lines),
        kind=Announcement.Kind.RULE_CHANGE,
        category=category,
        status=Announcement.Status.PUBLISHED,
        published_at=first.notice_at,
        statutory=True,  # the legal record of the notice: never edited, withdrawn or deleted
        segments=segments,
    )


_EVENT_ACTIONS = {
    LifecycleEvent.Kind.NOTICE: ChangeAction.NOTICED,
    LifecycleEvent.Kind.EFFECTIVE: ChangeAction.EFFECTIVE,
    LifecycleEvent.Kind.BUFFER_END: ChangeAction.BUFFER_ENDED,
}


@transaction.atomic
def lifecycle_run_due(*, now: datetime | None = None) -> list[LifecycleEvent]:
    """Run every transition due by `now`, oldest first; late ones are caught up and logged as late."""
    now = now or timezone.now()
    due = list(
        # Lock the events only: PostgreSQL cannot lock the nullable side (bundle) of the outer join.
        LifecycleEvent.objects.select_for_update(of=("self",))
        .filter(done_at__isnull=True, due_at__lte=now)
        .select_related("version__rule", "version__bundle")
        .order_by("due_at", "id")
    )
    bundle_items: dict[int, Announcement] = {}
    for event in due:
        version = event.version
        if event.kind == LifecycleEvent.Kind.NOTICE:
            if version.bundle_id is not None:
                if version.bundle_id not in bundle_items:
                    done = selectors.bundle_notice_announcement(bundle_id=version.bundle_id)
                    bundle_items[version.bundle_id] = done or _notice_announcement(
                        selectors.bundle_versions(bundle_id=version.bundle_id)
                    )
                event.announcement = bundle_items[version.bundle_id]
            else:
                event.announcement = _notice_announcement([version])
        event.done_at = now
        event.save(update_fields=["done_at", "announcement"])
        version_changed(version, _EVENT_ACTIONS[LifecycleEvent.Kind(event.kind)], SYSTEM)
        late = now - event.due_at
        if late > timedelta(seconds=settings.RULECENTER_LIFECYCLE_GRACE_SECONDS):
            logger.warning("caught up late: %s (%s late)", event, late)
        else:
            logger.info("ran: %s", event)
    return due
