"""Notifications' background work: no web request waits for a delivery."""

from django.tasks import task

from . import services


@task()
def event_fan_out(event_id: int) -> int:
    """Create the event's deliveries and queue their first attempts."""
    return services.event_fan_out(event_id=event_id)


@task()
def delivery_attempt(delivery_id: int) -> str | None:
    """Make a delivery's due attempt (nothing if it is not due: a lease's safety net, a repeat)."""
    return services.delivery_attempt(delivery_id=delivery_id)
