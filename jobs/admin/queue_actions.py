"""Operator actions on named queues from the dashboard: pause and resume. POST only,
CSRF-checked, recorded in the admin log; a bad name changes nothing."""

from django.contrib import messages
from django.contrib.admin.models import CHANGE
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from jobs import queues
from jobs.admin.base import JobAdminAction
from jobs.errors import JobValidationError


class _QueueAction(JobAdminAction):
    """POST ``name``: act on that queue, then back to the dashboard with what happened."""

    verb = ""

    def post(self, request):
        name = request.POST.get("name", "")
        try:
            summary = self.apply(name)
        except JobValidationError as error:
            self.message(f"Nothing was changed: {' '.join(error.errors.get('name', []))}", messages.ERROR)
            return self.redirect_to("dashboard")
        change = f"{self.verb.capitalize()} queue {summary.name}."
        self.model_admin.log_bulk_action(request, description=f"queue {summary.name}", flag=CHANGE, message=change)
        self.message(change, messages.SUCCESS)
        return self.redirect_to("dashboard")

    def apply(self, name: str) -> queues.QueueSummary:
        raise NotImplementedError


@method_decorator(require_POST, name="dispatch")
class PauseQueueView(_QueueAction):
    """No pool claims the queue's pending jobs until it is resumed; running ones finish."""

    verb = "paused"

    def apply(self, name: str) -> queues.QueueSummary:
        return queues.pause_queue(name)


@method_decorator(require_POST, name="dispatch")
class ResumeQueueView(_QueueAction):
    """Pools claim the queue's pending jobs again."""

    verb = "resumed"

    def apply(self, name: str) -> queues.QueueSummary:
        return queues.resume_queue(name)
