"""The member's own page (/me/, issue 13): their subscriptions, votes, exit requests, acknowledgments, a
link to their cases, and the language the platform writes to them in.

Everything on it is the signed-in user's own, read through the selectors of the apps that hold it; its two
writes — ending a subscription, choosing the notification language — are the notifications' and accounts'
services', which check the owner again. The page is
never kept by a shared cache nor stored by the browser: it lists webhook and robot addresses, whose URLs
often carry the receiver's access token.
"""

from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from rulecenter.accounts import services as account_services
from rulecenter.accounts.roles import actor_for
from rulecenter.common.sessions import private_page
from rulecenter.consultations import selectors as consultation_selectors
from rulecenter.notifications import selectors as notification_selectors
from rulecenter.notifications import services as notification_services
from rulecenter.notifications.models import Subscription
from rulecenter.rules import selectors as rule_selectors

SUBSCRIPTION_UNKNOWN = "没有这个订阅。"
SUBSCRIPTION_DELETED = "已取消订阅。"
LANGUAGE_SAVED = "已保存通知语言。"
NOT_A_MEMBER = "只有会员可以选择通知语言。"
NOTICE_KEY = "me_notice"


@dataclass(frozen=True, slots=True)
class SubscriptionShown:
    subscription: Subscription
    topic: str  # in words: 全部变更, 栏目：规则变更, 规则：《…》
    state: Literal["pending", "disabled", "active"]


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _state(subscription: Subscription) -> Literal["pending", "disabled", "active"]:
    if subscription.disabled_at is not None:
        return "disabled"
    return "pending" if subscription.confirmed_at is None else "active"


def _subscriptions_shown(owner: User) -> list[SubscriptionShown]:
    subscriptions = notification_selectors.subscriptions_of(owner=owner)
    words = notification_selectors.topic_words(s.topic for s in subscriptions)
    return [
        SubscriptionShown(
            subscription=s,
            topic=words[s.topic],
            state=_state(s),
        )
        for s in subscriptions
    ]


@private_page
@require_safe
def member_page(request: HttpRequest) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    return _member_page(request, user)


def _member_page(
    request: HttpRequest, user: User, *, extra: dict[str, object] | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "subscriptions": _subscriptions_shown(user),
        "votes": consultation_selectors.member_votes_of(user_id=user.pk, at=timezone.now()),
        "votes_shown": consultation_selectors.MEMBER_VOTES_SHOWN,
        "exits": rule_selectors.exit_requests_of(user_id=user.pk),
        "exits_shown": rule_selectors.EXIT_REQUESTS_SHOWN,
        "pending": rule_selectors.acknowledgments_pending(user_id=user.pk, at=timezone.now()),
        "acknowledged": rule_selectors.acknowledgments_of(user_id=user.pk),
        "notice": request.session.pop(NOTICE_KEY, None) if request.method == "GET" else None,
        "member": getattr(user, "member", None),
        # Each language in its own name (简体中文, English), whatever the page's language.
        "languages": [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES],
        "nav": "me",
        **(extra or {}),
    }
    response = render(request, "site/me.html", context, status=status)
    patch_cache_control(response, no_store=True)
    return response


@private_page
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The member chooses the language the platform writes to them in (requests to acknowledge)."""
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(reverse("me:page"))
    member = getattr(user, "member", None)
    if member is None:
        raise Http404(_(NOT_A_MEMBER))
    try:
        account_services.member_language_set(
            actor=actor_for(user), member=member, language=request.POST.get("language", "")[:16]
        )
    except ValidationError as refused:
        return _member_page(request, user, extra={"language_error": " ".join(refused.messages)}, status=400)
    request.session[NOTICE_KEY] = _(LANGUAGE_SAVED)
    return HttpResponseRedirect(reverse("me:page") + "#language")


@private_page
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """End one of the user's own subscriptions; anyone else's, or an unknown id, is a 404 and stays."""
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(reverse("me:page"))
    # An owner has at most MAX_SUBSCRIPTIONS_PER_OWNER (100) subscriptions: the page's own read finds it.
    subscription = notification_selectors.subscription_of(owner=user, pk=pk)
    if subscription is None:
        raise Http404(_(SUBSCRIPTION_UNKNOWN))
    try:
        notification_services.subscription_delete(actor=actor_for(user), subscription=subscription)
    except PermissionDenied:
        raise Http404(_(SUBSCRIPTION_UNKNOWN)) from None
    request.session[NOTICE_KEY] = _(SUBSCRIPTION_DELETED)
    return HttpResponseRedirect(reverse("me:page") + "#subscriptions")
