"""Notifications' background work: no web request waits for a delivery."""

from datetime import datetime

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


@task()
def deliveries_attempt(delivery_ids: list[int]) -> int:
    """First attempts of a batch of deliveries (e-mails through one connection)."""
    return services.deliveries_attempt(delivery_ids=delivery_ids)


@task()
def digest_run(frequency: str, period_end: str) -> int:
    """Send the digests of one period (each once, however many times this runs)."""
    return services.digest_run(frequency=frequency, period_end=datetime.fromisoformat(period_end))


@task()
def confirmation_send(subscription_id: int) -> bool:
    """Mail an e-mail subscription's confirmation link (double opt-in)."""
    return services.confirmation_send(subscription_id=subscription_id)


@task()
def owner_told(subscription_id: int) -> bool:
    """Tell a subscription's owner by e-mail that it was disabled, and why."""
    return services.owner_told(subscription_id=subscription_id)


@task()
def consultation_moment(consultation_id: int, moment: str, at: str) -> bool:
    """Raise a consultation's opening or closing-soon event at its time (once)."""
    return services.consultation_moment(
        consultation_id=consultation_id, moment=moment, at=datetime.fromisoformat(at)
    )


@task()
def acknowledgment_reminders(version_id: int, effective_at: str) -> int:
    """Remind the members who have not acknowledged a change before it takes effect (each once)."""
    return services.acknowledgment_reminders_send(
        version_id=version_id, effective_at=datetime.fromisoformat(effective_at)
    )


@task()
def case_step_told(step_id: int) -> bool:
    """Tell the member of a step of their case (filed, taken up, answered, escalated, closed)."""
    return services.case_step_tell(step_id=step_id)


@task()
def case_overdue(case_id: int, due_at: str) -> int:
    """Tell the reviewers that a case passed its deadline unanswered (nothing if it was answered by then)."""
    return services.case_overdue_tell(case_id=case_id, due_at=datetime.fromisoformat(due_at))
