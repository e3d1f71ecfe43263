"""A change's record on demand: the file a platform hands a regulator, as a printable page and as JSON.

For a noticed change — a bundle (`/rules/bundles/<id>/record`) or a version outside any bundle
(`/rules/<slug>/versions/<number>/record`) — it gathers from the apps that hold them: the dates, each
version with the SHA-256 of its text and the people who proposed, approved and scheduled it, the
consultation held on it with its window and tally, how many members refused the change and exited, and
every audit entry about it with its hashes, ending with the command that checks them against the chain.
Nothing of it is public before the change's notice (404, like the change itself).
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_safe

from rulecenter.audit import selectors as audit_selectors
from rulecenter.audit.models import AuditCheckpoint, AuditEntry
from rulecenter.common.changes import ChangeAction, ContentKind
from rulecenter.consultations import selectors as consultation_selectors
from rulecenter.consultations.models import Consultation
from rulecenter.consultations.tally import Tally
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.models import ChangeBundle, RuleVersion

BUNDLE_UNKNOWN = "变更包不存在或尚未公示。"
VERSION_UNKNOWN = "规则“{slug}”没有已公示的第 {number} 版。"
VERIFY_COMMAND = "rulecenter audit verify --against {seq}:{hash}"
# Labels for the page; the JSON keeps the codes (ContentKind, ChangeAction values).
ACTION_LABELS = {
    ChangeAction.CREATED: "创建",
    ChangeAction.UPDATED: "修改",
    ChangeAction.DELETED: "删除",
    ChangeAction.PUBLISHED: "发布",
    ChangeAction.SCHEDULED: "排期（定下公示和生效时间）",
    ChangeAction.NOTICED: "公示",
    ChangeAction.EFFECTIVE: "生效",
    ChangeAction.BUFFER_ENDED: "缓冲期结束",
    ChangeAction.RESULT_DRAFTED: "起草结果反馈",
    ChangeAction.APPROVED: "审核通过",
    ChangeAction.SENT_BACK: "退回修改",
    ChangeAction.CORRECTED: "更正",
    ChangeAction.WITHDRAWN: "撤回",
    ChangeAction.UNSCHEDULED: "取消排期",
    ChangeAction.ISSUED: "签发令牌",
    ChangeAction.REVOKED: "吊销令牌",
    ChangeAction.OPINIONS_REVIEWED: "审核意见",
    ChangeAction.OPINIONS_ANSWERED: "回应意见",
    ChangeAction.FILED: "提交申诉",
    ChangeAction.TAKEN: "开始审查申诉",
    ChangeAction.ANSWERED: "答复申诉",
    ChangeAction.ESCALATED: "申请人工复核",
    ChangeAction.CLOSED: "申诉结案",
    ChangeAction.TRANSLATED: "添加译文",
}
KIND_LABELS = {
    ContentKind.RULE_VERSION: "规则版本",
    ContentKind.CHANGE_BUNDLE: "变更包",
    ContentKind.CONSULTATION: "意见征集",
}


@dataclass(frozen=True)
class VersionRecord:
    version: RuleVersion
    text_sha256: str
    proposed_by: str | None  # the version's last author; None: the platform itself (or not recorded)
    approved_by: str | None
    approved_at: datetime | None
    scheduled: AuditEntry | None  # the last SCHEDULED entry of this version: who gave it its dates, and when


@dataclass(frozen=True)
class ConsultationRecord:
    consultation: Consultation
    status: Consultation.Status
    tally: Tally | None  # None while RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE hides it


@dataclass(frozen=True)
class ChangeRecord:
    kind: Literal["bundle", "version"]
    pk: int
    title: str
    page_url: str  # the change's public page
    record_url: str
    json_url: str
    notice_at: datetime | None
    effective_at: datetime | None
    buffer_ends_at: datetime | None
    versions: list[VersionRecord]
    scheduled: AuditEntry | None  # who scheduled the change as a whole (the bundle's entry, or the version's)
    consultations: list[ConsultationRecord]
    exit_requests: int | None  # members who refused the change and exited; None: a version outside a bundle
    entries: list[AuditEntry]
    checkpoint: AuditCheckpoint | None  # the chain's head published when the change was noticed
    generated_at: datetime

    @property
    def last_entry(self) -> AuditEntry | None:
        return self.entries[-1] if self.entries else None

    @property
    def verify_command(self) -> str | None:
        last = self.last_entry
        return None if last is None else VERIFY_COMMAND.format(seq=last.seq, hash=last.hash)


def _last_scheduled(entries: Sequence[AuditEntry], kind: ContentKind, pk: int) -> AuditEntry | None:
    found = None
    for entry in entries:
        if entry.kind == kind and entry.action == ChangeAction.SCHEDULED and pk in entry.object_id_list:
            found = entry
    return found


def _name(user: Any) -> str | None:
    return None if user is None else str(user.get_username())


def change_record(*, versions: list[RuleVersion], bundle: ChangeBundle | None) -> ChangeRecord:
    """Everything on record about one noticed change: `versions` are the bundle's, or the one version."""
    now = timezone.now()
    prefetch_related_objects(versions, "author", "approved_by")
    # A bundle's consultation is held on its versions, so this finds it too.
    consultations = consultation_selectors.consultations_holding(version_ids=[v.pk for v in versions])
    subjects = [(str(ContentKind.RULE_VERSION), v.pk) for v in versions]
    subjects += [(str(ContentKind.CONSULTATION), c.pk) for c in consultations]
    if bundle is not None:
        subjects.append((str(ContentKind.CHANGE_BUNDLE), bundle.pk))
    entries = audit_selectors.audit_entries_for(objects=subjects)
    version_records = [
        VersionRecord(
            version=v,
            text_sha256=hashlib.sha256(v.text.encode()).hexdigest(),
            proposed_by=_name(v.author),
            approved_by=_name(v.approved_by),
            approved_at=v.approved_at,
            scheduled=_last_scheduled(entries, ContentKind.RULE_VERSION, v.pk),
        )
        for v in versions
    ]
    consultation_records = [
        ConsultationRecord(
            consultation=c,
            status=c.status_at(now),
            tally=(
                consultation_selectors.consultation_tally(consultation=c)
                if consultation_selectors.tally_visible(consultation=c, at=now)
                else None
            ),
        )
        for c in consultations
    ]
    first = versions[0]
    if bundle is not None:
        kind: Literal["bundle", "version"] = "bundle"
        pk, title, page_url = bundle.pk, bundle.title, bundle.get_absolute_url()
        scheduled = (
            _last_scheduled(entries, ContentKind.CHANGE_BUNDLE, bundle.pk) or version_records[0].scheduled
        )
        # Counted through the bundle's reverse relation: rules has no selector counting exit requests yet.
        exit_requests: int | None = bundle.exit_requests.count()
        record_url = reverse("record:bundle", args=[bundle.pk])
        json_url = reverse("record:bundle_json", args=[bundle.pk])
    else:
        kind = "version"
        pk, page_url = first.pk, first.get_absolute_url()
        title = _("《{rule}》第 {number} 版").format(rule=first.rule.title, number=first.number)
        scheduled, exit_requests = version_records[0].scheduled, None
        record_url = reverse("record:version", args=[first.rule.slug, first.number])
        json_url = reverse("record:version_json", args=[first.rule.slug, first.number])
    return ChangeRecord(
        kind=kind,
        pk=pk,
        title=title,
        page_url=page_url,
        record_url=record_url,
        json_url=json_url,
        notice_at=first.notice_at,
        effective_at=first.effective_at,
        buffer_ends_at=first.buffer_ends_at,
        versions=version_records,
        scheduled=scheduled,
        consultations=consultation_records,
        exit_requests=exit_requests,
        entries=entries,
        checkpoint=audit_selectors.checkpoint_at_notice([v.pk for v in versions]),
        generated_at=now,
    )


# --- JSON ------------------------------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _entry_ref(entry: AuditEntry | None) -> dict[str, object] | None:
    if entry is None:
        return None
    return {"by": entry.actor_name, "roles": entry.role_list, "at": _iso(entry.at), "seq": entry.seq}


def _tally_dict(tally: Tally | None) -> dict[str, object] | None:
    if tally is None:
        return None
    return {
        "total": tally.total,
        "options": [
            {"key": key, "label": label, "votes": votes, "share": share}
            for key, label, votes, share in tally.rows()
        ],
    }


def record_as_dict(record: ChangeRecord, *, absolute: Any) -> dict[str, object]:
    """The record's stable JSON shape (docs/urls.md); `absolute` turns a path into a full URL."""
    last = record.last_entry
    return {
        "generated_at": _iso(record.generated_at),
        "change": {
            "kind": record.kind,
            "id": record.pk,
            "title": record.title,
            "url": absolute(record.page_url),
            "record_url": absolute(record.record_url),
        },
        "notice_at": _iso(record.notice_at),
        "effective_at": _iso(record.effective_at),
        "buffer_ends_at": _iso(record.buffer_ends_at),
        "scheduled": _entry_ref(record.scheduled),
        "versions": [
            {
                "rule": {"slug": v.version.rule.slug, "title": v.version.rule.title},
                "number": v.version.number,
                "url": absolute(v.version.get_absolute_url()),
                "major": v.version.major,
                "summary": v.version.summary,
                "text_sha256": v.text_sha256,
                "proposed_by": v.proposed_by,
                "approved_by": v.approved_by,
                "approved_at": _iso(v.approved_at),
                "scheduled": _entry_ref(v.scheduled),
            }
            for v in record.versions
        ],
        "consultations": [
            {
                "id": c.consultation.pk,
                "title": c.consultation.title,
                "url": absolute(c.consultation.get_absolute_url()),
                "opens_at": _iso(c.consultation.opens_at),
                "closes_at": _iso(c.consultation.closes_at),
                "status": str(c.status),
                "tally": _tally_dict(c.tally),
            }
            for c in record.consultations
        ],
        "exit_requests": record.exit_requests,
        "audit": {
            "entries": [
                {
                    "seq": e.seq,
                    "at": _iso(e.at),
                    "actor": e.actor_name,
                    "roles": e.role_list,
                    "kind": e.kind,
                    "action": e.action,
                    "object_ids": e.object_id_list,
                    "data_sha256": e.data_sha256,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in record.entries
            ],
            "last": None if last is None else {"seq": last.seq, "hash": last.hash},
            "verify": record.verify_command,
            "checkpoint_at_notice": (
                None
                if record.checkpoint is None
                else {
                    "seq": record.checkpoint.seq,
                    "hash": record.checkpoint.hash,
                    "at": _iso(record.checkpoint.at),
                }
            ),
        },
    }


# --- views -----------------------------------------------------------------------------------------------


def _bundle_record(pk: int) -> ChangeRecord:
    bundle = rule_selectors.bundle_get(pk=pk)
    if bundle is None:
        raise Http404(_(BUNDLE_UNKNOWN))
    versions = list(bundle.versions.all())
    return change_record(versions=versions, bundle=bundle)


def _version(slug: str, number: str) -> RuleVersion:
    rule = rule_selectors.rule_by_slug(slug)
    version = rule_selectors.version_by_number(rule=rule, number=int(number)) if rule is not None else None
    if version is None:
        raise Http404(_(VERSION_UNKNOWN).format(slug=slug, number=number))
    return version


def _render(request: HttpRequest, record: ChangeRecord) -> HttpResponse:
    context = {
        "record": record,
        # With a context: the same words label other things elsewhere (公示 as a date, 撤回 as a button).
        "action_labels": {
            str(action): pgettext("audit action", label) for action, label in ACTION_LABELS.items()
        },
        "kind_labels": {str(kind): pgettext("audit object", label) for kind, label in KIND_LABELS.items()},
        "nav": "rules",
    }
    return render(request, "site/record.html", context)


def _json(request: HttpRequest, record: ChangeRecord) -> HttpResponse:
    body = record_as_dict(record, absolute=request.build_absolute_uri)
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 2})


@require_safe
def bundle_record(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, _bundle_record(pk))


@require_safe
def bundle_record_json(request: HttpRequest, pk: int) -> HttpResponse:
    return _json(request, _bundle_record(pk))


@require_safe
def version_record(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    version = _version(slug, number)
    if version.bundle_id is not None:
        # A version noticed with others has one record: its bundle's.
        return HttpResponseRedirect(reverse("record:bundle", args=[version.bundle_id]))
    return _render(request, change_record(versions=[version], bundle=None))


@require_safe
def version_record_json(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    version = _version(slug, number)
    if version.bundle_id is not None:
        return HttpResponseRedirect(reverse("record:bundle_json", args=[version.bundle_id]))
    return _json(request, change_record(versions=[version], bundle=None))
