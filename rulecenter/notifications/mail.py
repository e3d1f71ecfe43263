"""E-mail: the messages (an event at once, a digest per period, a confirmation) and sending one.

Messages go through Django's mail API (`EMAIL_BACKEND`: SMTP by default, any django-anymail provider by
setting), with a text part and an HTML part, in the subscription's language. Every notification carries
`List-Unsubscribe` with an HTTPS URL and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a
mail client's one-click POST to that URL unsubscribes; a GET only shows a button, so a link scanner that
follows links unsubscribes no one. Each message's `Message-ID` is fixed before the first attempt and kept
on every retry, so a repeat after a crash can be recognised by the receiving system.
"""

import base64
import email.policy
import re
import secrets
import smtplib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from markupsafe import escape

from .events import EVENT_LABELS
from .models import Event, Subscription
from .selectors import topic_in_words

CONFIRM_SALT = "rulecenter.notifications.confirm"
UNSUBSCRIBE_SALT = "rulecenter.notifications.unsubscribe"
CONFIRM_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Sent:
    succeeded: bool
    latency_ms: int
    error: str = ""
    permanent: bool = False  # the receiving server refused the address for good (5xx): do not retry


def site_url(path: str) -> str:
    return f"{settings.RULECENTER_SITE_URL.rstrip('/')}{path}"


def confirm_token(subscription: Subscription) -> str:
    return signing.dumps(subscription.pk, salt=CONFIRM_SALT)


def confirm_token_read(token: str) -> int | None:
    """The subscription a confirmation token names, if it is genuine and at most a week old."""
    try:
        value = signing.loads(token[:200], salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def unsubscribe_token(subscription_ids: Iterable[int]) -> str:
    """A token that ends these subscriptions (never expires: an old e-mail's link still works)."""
    return signing.dumps(sorted(set(subscription_ids)), salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> list[int] | None:
    try:
        value = signing.loads(token[:2000], salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, list) or not all(isinstance(pk, int) for pk in value) or len(value) > 200:
        return None
    return value


def unsubscribe_url(subscription_ids: Iterable[int]) -> str:
    return site_url(reverse("notifications:unsubscribe", args=[unsubscribe_token(subscription_ids)]))


def event_label(event_type: str) -> str:
    return translation.gettext(EVENT_LABELS.get(event_type, event_type))


def _local(value: str | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def event_item(event: Event) -> dict[str, Any]:
    """What a message shows of one event (in the active language)."""
    data = event.data
    return {
        "label": event_label(event.type),
        "title": str(data.get("title", "")),
        "summary": str(data.get("summary", "")),
        "version": data.get("version"),
        "notice_at": _local(data.get("notice_at")),
        "effective_at": _local(data.get("effective_at")),
        "published_at": _local(data.get("published_at")),
        "opens_at": _local(data.get("opens_at")),
        "closes_at": _local(data.get("closes_at")),
        "link": data.get("diff_url") or data.get("version_url") or data.get("url") or site_url("/"),
        "major": bool(data.get("major")),
    }


def _domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "rulecenter.invalid"


def message_id_header(message_id: str) -> str:
    return f"<{message_id}@{_domain()}>"


class NotificationMessage(EmailMultiAlternatives):
    """A notification e-mail whose headers go out as written. With the SMTP policy's 78-character lines,
    a `List-Unsubscribe` URL longer than that (it always is: the token) cannot be folded, having no space,
    and would be RFC 2047-encoded — which one-click unsubscribe (RFC 8058) receivers do not decode. RFC 5322
    allows lines of 998 characters."""

    def message(self, *, policy: email.policy.Policy | None = None) -> Any:
        return super().message(policy=(policy or email.policy.default).clone(max_line_length=998))


def _message(
    *,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    message_id: str,
    unsubscribe: str | None,
) -> EmailMultiAlternatives:
    headers = {"Message-ID": message_id_header(message_id), "Auto-Submitted": "auto-generated"}
    if unsubscribe is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    context = {**context, "unsubscribe_url": unsubscribe, "site_url": site_url("/")}
    text = render_to_string(f"notifications/email/{template}.txt", context)
    html = render_to_string(f"notifications/email/{template}.html", context)
    message = NotificationMessage(
        subject=subject.replace("\n", " ")[:200], body=text, to=[to], headers=headers
    )
    message.attach_alternative(html, "text/html")
    return message


def _event_subject(item: dict[str, Any]) -> str:
    return translation.gettext("[规则中心] {label}：{title}").format(label=item["label"], title=item["title"])


def event_message(subscription: Subscription, event: Event, message_id: str) -> EmailMultiAlternatives:
    with translation.override(subscription.language):
        item = event_item(event)
        return _message(
            to=subscription.target,
            subject=_event_subject(item),
            template="event",
            context={"item": item, "subscription": subscription, "topic": topic_in_words(subscription.topic)},
            message_id=message_id,
            unsubscribe=unsubscribe_url([subscription.pk]),
        )


# A recipient whose address goes into `To:` exactly as written (anything else is built the slow way).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}\Z")


class _Prebuilt:
    """A message's bytes for the SMTP backend, which only asks for `as_bytes()`; anything else is answered
    by the message built in full."""

    def __init__(self, raw: bytes, full: "EventMessage") -> None:
        self.raw, self._full = raw, full

    def as_bytes(self, unixfrom: bool = False, policy: email.policy.Policy | None = None) -> bytes:
        if unixfrom or policy is not None:
            return bytes(self._built().as_bytes(unixfrom=unixfrom, policy=policy))
        return self.raw

    def _built(self) -> Any:
        return super(EventMessage, self._full).message(policy=email.policy.SMTP)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built(), name)


class EventMessage(NotificationMessage):
    """One recipient's notice of an event, from the `EventMail` of its event, language and topic: for the
    SMTP backend its bytes are that mail's frame with the recipient's slots filled in; for any other
    backend (a django-anymail provider, the console, the tests' outbox) it is an ordinary message."""

    def __init__(self, *args: Any, frame: "EventMail", slots: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frame, self.slots = frame, slots

    def message(self, *, policy: email.policy.Policy | None = None) -> Any:
        if policy is not None and policy.linesep == "\r\n" and self.frame.raw is not None:
            html = self.alternatives[0][0]  # (content, mimetype): the one HTML part
            return _Prebuilt(self.frame.filled(self.slots, str(self.body), str(html)), self)
        return super().message(policy=policy)


class EventMail:
    """The notice of one event to the subscribers of one topic in one language, built once for them all.

    Building a MIME message costs ~2 ms of CPU (the headers' parsing and folding, the generator), as much as
    the rest of a delivery. The recipients' messages differ only in `To:`, `Message-ID:`, `Date:`, the
    unsubscribe URL (in `List-Unsubscribe` and in both bodies): Django builds the message once with
    stand-ins for those, and each recipient's bytes are that frame with its own values put in and its two
    bodies base64-encoded, as the standard library encodes them. If the frame is not as expected (another
    Python's generator), every message is built in full.
    """

    def __init__(self, event: Event, language: str, topic: str) -> None:
        stand_in = f"rc{secrets.token_hex(8)}"
        self.stand_ins = {name: f"{stand_in}{name}" for name in ("id", "unsubscribe", "text", "html")}
        self.stand_ins["to"] = f"{stand_in}@example.invalid"
        with translation.override(language):
            item = event_item(event)
            self.subject = _event_subject(item)
            context = {
                "item": item,
                "subscription": {"topic": topic},
                "topic": topic_in_words(topic),
                "unsubscribe_url": self.stand_ins["unsubscribe"],
                "site_url": site_url("/"),
            }
            self.text = render_to_string("notifications/email/event.txt", context)
            self.html = render_to_string("notifications/email/event.html", context)
        self.raw = self._frame()

    def _frame(self) -> bytes | None:
        stand_ins = self.stand_ins
        message = NotificationMessage(
            subject=self.subject.replace("\n", " ")[:200],
            body=stand_ins["text"],
            to=[stand_ins["to"]],
            headers=self._headers(stand_ins["id"], stand_ins["unsubscribe"]),
        )
        message.attach_alternative(stand_ins["html"], "text/html")
        raw = bytes(message.message(policy=email.policy.SMTP).as_bytes())
        date = re.search(rb"\r\nDate: [^\r\n]+\r\n", raw)
        if date is None:
            return None
        raw = raw[: date.start()] + b"\r\nDate: \0date\r\n" + raw[date.end() :]
        for slot in ("to", "id", "unsubscribe"):
            if raw.count(stand_ins[slot].encode()) != 1:
                return None
            raw = raw.replace(stand_ins[slot].encode(), f"\0{slot}".encode())
        for slot in ("text", "html"):
            # The part's body goes in base64, as the generator encodes a Chinese text: its headers say so.
            body = f"\r\n\r\n{stand_ins[slot]}\r\n".encode()
            at = raw.find(body)
            part = raw.rfind(b"\r\n--", 0, at)
            headers = raw[part:at]
            if at < 0 or part < 0 or raw.count(body) != 1 or headers.count(SEVEN_BIT) != 1:
                return None
            headers = headers.replace(SEVEN_BIT, b"Content-Transfer-Encoding: base64")
            raw = raw[:part] + headers + f"\r\n\r\n\0{slot}".encode() + raw[at + len(body) :]
        return raw

    @staticmethod
    def _headers(message_id: str, unsubscribe: str) -> dict[str, str]:
        return {
            "Message-ID": message_id_header(message_id),
            "Auto-Submitted": "auto-generated",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def filled(self, slots: dict[str, str], text: str, html: str) -> bytes:
        """The frame's bytes with one recipient's headers and bodies."""
        assert self.raw is not None
        values = {
            b"\0date": _now_header().encode(),
            b"\0to": slots["to"].encode(),
            b"\0id": slots["id"].encode(),
            b"\0unsubscribe": slots["unsubscribe"].encode(),
            b"\0text": _base64(text),
            b"\0html": _base64(html),
        }
        return _SLOT.sub(lambda found: values[found.group(0)], self.raw)

    def message(self, subscription: Subscription, message_id: str) -> EmailMultiAlternatives:
        """The recipient's message: fast for the SMTP backend if its address can go in as written."""
        unsubscribe = unsubscribe_url([subscription.pk])
        text = self.text.replace(self.stand_ins["unsubscribe"], unsubscribe)
        html = self.html.replace(self.stand_ins["unsubscribe"], str(escape(unsubscribe)))
        headers = self._headers(message_id, unsubscribe)
        subject = self.subject.replace("\n", " ")[:200]
        if self.raw is None or not _PLAIN_ADDRESS.match(subscription.target):
            message: EmailMultiAlternatives = NotificationMessage(
                subject=subject, body=text, to=[subscription.target], headers=headers
            )
        else:
            slots = {"to": subscription.target, "id": message_id, "unsubscribe": unsubscribe}
            message = EventMessage(
                subject=subject, body=text, to=[subscription.target], headers=headers, frame=self, slots=slots
            )
        message.attach_alternative(html, "text/html")
        return message


SEVEN_BIT = b"Content-Transfer-Encoding: 7bit"
_SLOT = re.compile(rb"\0(?:date|to|id|unsubscribe|text|html)")


def _now_header() -> str:
    """`Date:` as Django writes it."""
    zone = timezone.get_current_timezone() if settings.EMAIL_USE_LOCALTIME else UTC
    return format_datetime(datetime.now(zone))


def _base64(text: str) -> bytes:
    """A body as the standard library's generator encodes it for SMTP: its lines ended by CRLF, one at the
    end too, then base64 in lines of 76 characters ending in CRLF."""
    body = b"\r\n".join(text.encode().splitlines()) + b"\r\n"
    return base64.encodebytes(body).replace(b"\n", b"\r\n")


def digest_message(
    *,
    address: str,
    language: str,
    frequency: str,
    period_end: datetime,
    events: Sequence[Event],
    subscription_ids: Sequence[int],
    message_id: str,
) -> EmailMultiAlternatives:
    with translation.override(language):
        items = [event_item(event) for event in events]
        heading = translation.gettext("每日汇总") if frequency == "daily" else translation.gettext("每周汇总")
        date = timezone.localtime(period_end).strftime("%Y-%m-%d")
        subject = translation.gettext("[规则中心] {heading} {date}：{count} 条变更").format(
            heading=heading, date=date, count=len(items)
        )
        return _message(
            to=address,
            subject=subject,
            template="digest",
            context={"items": items, "heading": heading, "date": date},
            message_id=message_id,
            unsubscribe=unsubscribe_url(subscription_ids),
        )


def confirmation_message(subscription: Subscription) -> EmailMultiAlternatives:
    with translation.override(subscription.language):
        url = site_url(reverse("notifications:confirm", args=[confirm_token(subscription)]))
        return _message(
            to=subscription.target,
            subject=translation.gettext("[规则中心] 请确认订阅"),
            template="confirm",
            context={
                "confirm_url": url,
                "subscription": subscription,
                "topic": topic_in_words(subscription.topic),
            },
            message_id=make_msgid(domain=_domain()).strip("<>").partition("@")[0],
            unsubscribe=None,
        )


def disabled_message(subscription: Subscription) -> EmailMultiAlternatives:
    """To the owner of a subscription that was disabled: which one, why, and how to enable it again."""
    assert subscription.owner is not None
    with translation.override(subscription.language):
        return _message(
            to=subscription.owner.email,
            subject=translation.gettext("[规则中心] 订阅已停用：{target}").format(
                target=subscription.target[:80]
            ),
            template="disabled",
            context={"subscription": subscription, "topic": topic_in_words(subscription.topic)},
            message_id=make_msgid(domain=_domain()).strip("<>").partition("@")[0],
            unsubscribe=None,
        )


def acknowledgment_reminder_message(user: Any, version: Any) -> EmailMultiAlternatives:
    """To a member who has not acknowledged a change that asks for it, before it takes effect, in the
    language the member chose on /me/."""
    member = getattr(user, "member", None)
    with translation.override(member.language if member is not None else settings.LANGUAGE_CODE):
        rule = version.rule
        url = site_url(reverse("rules:acknowledge", args=[rule.slug, version.number]))
        return _message(
            to=user.email,
            subject=translation.gettext("[规则中心] 请确认：《{title}》第 {number} 版将于 {at} 生效").format(
                title=rule.title, number=version.number, at=_local(version.effective_at.isoformat())
            ),
            template="acknowledgment_reminder",
            context={
                "rule": rule,
                "version": version,
                "acknowledge_url": url,
                "effective_at": _local(version.effective_at.isoformat()),
            },
            message_id=make_msgid(domain=_domain()).strip("<>").partition("@")[0],
            unsubscribe=None,
        )


def case_step_message(step: Any) -> EmailMultiAlternatives:
    """To the member who filed a case, at each of its steps, in the language they chose on /me/. The
    Message-ID is the step's own, so a repeat of the task (a worker killed after sending) is the same
    message to the mail system."""
    case = step.case
    member = getattr(case.member, "member", None)
    with translation.override(member.language if member is not None else settings.LANGUAGE_CODE):
        step_label = step.get_kind_display()
        return _message(
            to=case.member.email,
            subject=translation.gettext("[规则中心] 申诉 {number}：{step}").format(
                number=case.number, step=step_label
            ),
            template="case_step",
            context={
                "case": case,
                "step": step,
                "step_label": step_label,
                "status_label": case.get_status_display(),
                "outcome_label": case.get_outcome_display(),
                "due_at": _local(case.due_at.isoformat()),
                "case_url": site_url(reverse("cases:detail", args=[case.number])),
            },
            message_id=f"case-step-{step.pk}",
            unsubscribe=None,
        )


def case_overdue_message(case: Any, address: str) -> EmailMultiAlternatives:
    """To a reviewer: a case passed its answer deadline unanswered (in the site's language: staff mail)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _message(
            to=address,
            subject=translation.gettext("[规则中心] 申诉 {number} 已逾期未答复").format(number=case.number),
            template="case_overdue",
            context={
                "case": case,
                "due_at": _local(case.due_at.isoformat()),
                "status_label": case.get_status_display(),
                "admin_url": site_url(reverse("admin:cases_case_change", args=[case.pk])),
            },
            message_id=f"case-overdue-{case.pk}-{int(case.due_at.timestamp())}",
            unsubscribe=None,
        )


def send(message: EmailMultiAlternatives, connection: Any = None) -> Sent:
    """Send one message (through `connection`, an open mailer a batch shares, or the default mailer);
    never raises for what the mail server does."""
    started = time.monotonic()
    try:
        (connection or mailers.default).send_messages([message])
    except smtplib.SMTPRecipientsRefused as refused:
        codes = [code for code, _text in refused.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return Sent(False, _ms(started), f"SMTPRecipientsRefused: {codes}"[:500], permanent)
    except (smtplib.SMTPException, OSError) as failed:
        return Sent(False, _ms(started), f"{type(failed).__name__}: {failed}"[:500])
    return Sent(True, _ms(started))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
