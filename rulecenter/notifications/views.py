"""Pages of e-mail subscriptions: subscribe as a visitor, confirm (double opt-in), unsubscribe.

Confirming and unsubscribing happen on POST only: a GET of the link in the e-mail shows what will happen
and a button, so the link scanners of mail systems, which follow every link, neither confirm nor
unsubscribe anyone. The unsubscribe URL also takes a mail client's RFC 8058 one-click POST
(`List-Unsubscribe=One-Click`), which carries no CSRF token: the signed token in the URL is the proof.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rulecenter.accounts.roles import actor_for
from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.common import limits
from rulecenter.common.actors import Actor
from rulecenter.rules import selectors as rule_selectors

from . import mail, selectors, services
from .models import Subscription

VISITOR = Actor(user_id=None, name="visitor")


def _topics() -> list[tuple[str, list[tuple[str, str]]]]:
    """What the form offers to follow, grouped: everything, then the news sections and the rule categories
    by their names (content, in Chinese; the group says which kind they are)."""
    sections = [(f"category:{c.slug}", c.name) for c in announcement_selectors.category_list()]
    rule_categories = [(f"category:{c.slug}", c.name) for c in rule_selectors.rule_categories()]
    return [
        ("", [("all", _("全部变更"))]),
        (pgettext("subscription topics", "栏目"), sections),
        (pgettext("subscription topics", "规则分类"), rule_categories),
    ]


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("电子邮件地址"),
        max_length=254,
        error_messages={
            "invalid": gettext_lazy("请填写有效的电子邮件地址。"),
            "max_length": gettext_lazy("请填写有效的电子邮件地址（最长 254 个字符）。"),
            "required": gettext_lazy("请填写电子邮件地址。"),
        },
    )
    topic = forms.CharField(label=gettext_lazy("订阅内容"), max_length=200, initial="all")
    frequency = forms.ChoiceField(
        label=gettext_lazy("频率"), choices=Subscription.Frequency.choices, initial="immediate"
    )


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(
        request, f"notifications/{template}.html", {"nav": "subscribe", **context}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """Subscribe an e-mail address (no account needed); it receives a confirmation link first."""
    topic = request.GET.get("topic", "all")[:200]
    if request.method != "POST":
        form = SubscribeForm(initial={"topic": topic})
        return _page(
            request,
            "subscribe",
            {
                "form": form,
                "topics": _topics(),
                "topic": topic,
                "topic_label": selectors.topic_in_words(topic),
            },
        )
    wait = limits.limit_check(request, scope="subscribe", setting="RULECENTER_SUBSCRIBE_RATE")
    if wait is not None:
        return limits.limited_page(request, wait)
    form = SubscribeForm(request.POST)
    if form.is_valid():
        try:
            # Signed in: the subscription is the member's own, listed and ended on /me/ too.
            user = request.user if request.user.is_authenticated else None
            services.subscription_create(
                actor=actor_for(user) if user is not None else VISITOR,
                owner=user,
                channel=Subscription.Channel.EMAIL,
                target=form.cleaned_data["email"],
                topic=form.cleaned_data["topic"],
                frequency=form.cleaned_data["frequency"],
                language=get_language() or "zh-hans",
            )
        except ValidationError as refused:
            for field, messages in refused.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)  # "target" is the address
        else:
            return _page(request, "subscribe_sent", {"email": form.cleaned_data["email"]})
    topic = request.POST.get("topic", "all")[:200]
    return _page(
        request,
        "subscribe",
        {"form": form, "topics": _topics(), "topic": topic, "topic_label": selectors.topic_in_words(topic)},
        status=422,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        known = mail.confirm_token_read(token) is not None
        return _page(request, "confirm", {"token": token, "known": known}, status=200 if known else 404)
    subscription = services.subscription_confirm(token=token)
    if subscription is None:
        return _page(request, "confirm", {"token": token, "known": False}, status=404)
    return _page(
        request,
        "confirmed",
        {"subscription": subscription, "topic": selectors.topic_in_words(subscription.topic)},
    )


@csrf_exempt  # RFC 8058: a mail client's one-click POST carries no CSRF token; the signed URL is the proof
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        known = mail.unsubscribe_token_read(token) is not None
        return _page(request, "unsubscribe", {"token": token, "known": known}, status=200 if known else 404)
    ended = services.subscriptions_unsubscribe(token=token)
    if ended is None:
        return _page(request, "unsubscribe", {"token": token, "known": False}, status=404)
    return _page(request, "unsubscribed", {"ended": ended})
