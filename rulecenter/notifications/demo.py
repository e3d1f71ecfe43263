"""The demo's subscriber: the demo member follows everything by e-mail, so `make run` shows on its worker's
console (the e-mail backend when no mail server is configured) what a subscriber receives when the demo's
scheduled change is noticed."""

from django.contrib.auth.models import User
from django.db import transaction

from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.demo import VOTER

from . import mail, services
from .models import Subscription

DEMO_ADDRESS = "demo-voter@example.com"


@transaction.atomic
def load_demo_subscriptions() -> int:
    """The demo member's confirmed e-mail subscription to everything, unless it exists: how many made."""
    user = User.objects.filter(username=VOTER).first()
    if user is None or Subscription.objects.filter(owner=user).exists():
        return 0
    if not user.email:
        user.email = DEMO_ADDRESS
        user.save(update_fields=["email"])
    subscription = services.subscription_create(
        actor=SYSTEM, owner=user, channel="email", target=user.email, topic="all", frequency="immediate"
    )
    services.subscription_confirm(token=mail.confirm_token(subscription))
    return 1
