"""Work the worker does on time: draft the result report of every consultation whose window has closed."""

from django.tasks import task

from .results import consultation_results_run_due


@task()
def draft_due_results() -> int:
    """Close every due consultation (opinions collected and grouped, report drafted); runs each once."""
    return len(consultation_results_run_due())
