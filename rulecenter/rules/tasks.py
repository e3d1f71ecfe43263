"""Work the worker does on time: run the lifecycle transitions that have fallen due."""

from django.tasks import task

from .lifecycle import lifecycle_run_due


@task()
def run_due_lifecycle() -> int:
    """Run every due transition; safe to run any number of times (each transition runs once)."""
    return len(lifecycle_run_due())
