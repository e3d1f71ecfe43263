"""E-mail: the messages (an event at once, a digest per period, a confirmation) and sending one.

Messages go through Django's mail API (`EMAIL_BACKEND`: SMTP by default, any django-anymail provider by
setting), with a text part and an HTML part, in the subscription's language. Every notification carries
`List-Unsubscribe` with an HTTPS URL and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a
mail client's one-click POST to that URL unsubscribes; a GET only shows a button, so a link scanner that
follows links unsubscribes no one. Each message's `Message-ID` is fixed before the first attempt and kept
on every retry, so a repeat after a crash can be recognised by the receiving system.
"""

import email.policy
import smtplib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from .events import EVENT_LABELS
from .models import Event, Subscription

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


def event_message(subscription: Subscription, event: Event, message_id: str) -> EmailMultiAlternatives:
    with translation.override(subscription.language):
        item = event_item(event)
        subject = translation.gettext("[规则中心] {label}：{title}").format(
            label=item["label"], title=item["title"]
        )
        return _message(
            to=subscription.target,
            subject=subject,
            template="event",
            context={"item": item, "subscription": subscription},
            message_id=message_id,
            unsubscribe=unsubscribe_url([subscription.pk]),
        )


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
            context={"confirm_url": url, "subscription": subscription},
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
            context={"subscription": subscription},
            message_id=make_msgid(domain=_domain()).strip("<>").partition("@")[0],
            unsubscribe=None,
        )


def acknowledgment_reminder_message(user: Any, version: Any) -> EmailMultiAlternatives:
    """To a member who has not acknowledged a change that asks for it, before it takes effect."""
    with translation.override(settings.LANGUAGE_CODE):
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
