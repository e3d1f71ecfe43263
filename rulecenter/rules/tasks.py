"""Work the worker does on time: run the lifecycle transitions that have fallen due."""

from django.tasks import task

from . import services


@task()
def run_due_lifecycle() -> int:
    """Run every due transition; safe to run any number of times (each transition runs once)."""
    return len(services.lifecycle_run_due())
