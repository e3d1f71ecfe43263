"""Reads of notifications: a subscriber's own subscriptions and delivery log, topics in words."""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.common import topics as topic_kinds
from rulecenter.rules import selectors as rule_selectors

from .models import Delivery, Subscription

DELIVERIES_SHOWN = 100

TOPIC_ALL = "全部变更"
TOPIC_SECTION = "栏目：{name}"
TOPIC_RULE_CATEGORY = "规则分类：{name}"
TOPIC_RULE = "规则：《{title}》"
TOPIC_CONSULTATION = "意见征集 #{number}"


def subscriptions_of(*, owner: User) -> list[Subscription]:
    return list(Subscription.objects.filter(owner=owner).order_by("id"))


def subscription_of(*, owner: User, pk: int) -> Subscription | None:
    return Subscription.objects.filter(owner=owner, pk=pk).first()


def deliveries_of(*, subscription: Subscription, limit: int = DELIVERIES_SHOWN) -> tuple[int, list[Delivery]]:
    """How many deliveries the subscription has had, and the newest `limit` with their events."""
    deliveries = Delivery.objects.filter(subscription=subscription)
    return deliveries.count(), list(deliveries.select_related("event").order_by("-id")[:limit])


def delivery_of(*, subscription: Subscription, message_id: str) -> Delivery | None:
    deliveries = Delivery.objects.filter(subscription=subscription, message_id=message_id)
    return deliveries.select_related("subscription", "event").first()


def topic_words(topics: Iterable[str]) -> dict[str, str]:
    """Each topic in words, with the names of the sections, categories and rules it names (≤ 3 queries)."""
    parsed = {topic: topic.partition(":") for topic in topics}
    kinds = {kind for kind, _sep, _name in parsed.values()}
    sections: dict[str, str] = {}
    categories: dict[str, str] = {}
    if "category" in kinds:
        sections = {c.slug: c.name for c in announcement_selectors.category_list()}
        categories = {c.slug: c.name for c in rule_selectors.rule_categories()}
    titles: dict[str, str] = {}
    if "rule" in kinds:
        titles = rule_selectors.public_rule_titles(
            slugs=[name for kind, _sep, name in parsed.values() if kind == "rule"]
        )
    saved = topic_kinds.kind("search")
    words: dict[str, str] = {}
    for topic, (kind, _sep, name) in parsed.items():
        if topic == "all":
            words[topic] = _(TOPIC_ALL)
        elif kind == "category" and name in sections:
            words[topic] = _(TOPIC_SECTION).format(name=sections[name])
        elif kind == "category" and name in categories:
            words[topic] = _(TOPIC_RULE_CATEGORY).format(name=categories[name])
        elif kind == "rule":
            words[topic] = _(TOPIC_RULE).format(title=titles.get(name, name))
        elif kind == "consultation":
            words[topic] = _(TOPIC_CONSULTATION).format(number=name)
        elif kind == "search" and saved is not None:
            words[topic] = saved.describe(name)
        else:
            words[topic] = topic
    return words


def topic_in_words(topic: str) -> str:
    """One topic in words, in the active language (the e-mails' and pages' `topic_words`)."""
    return topic_words([topic])[topic]
