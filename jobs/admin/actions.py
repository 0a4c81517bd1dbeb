"""Operator actions on jobs: POST only, CSRF-checked, recorded in the admin log.

An action on a job whose state changed since its page was drawn is refused with a
message and changes nothing (``services`` decide; ``InvalidTransition`` says why).
"""

import logging
from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.models import CHANGE, DELETION
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import RedirectView

from jobs import services
from jobs.admin.base import JobAdminAction, JobAdminMixin
from jobs.admin.dashboard import DEFAULT_PURGE_DAYS
from jobs.domain import Status
from jobs.services import InvalidJobId, InvalidTransition, JobNotFound, JobValidationError
from jobs.timeutil import utc_now

logger = logging.getLogger(__name__)


class JobRedirectView(JobAdminMixin, RedirectView):
    """``<id>/`` → ``<id>/change/``, like the admin's own object URLs."""

    def get_redirect_url(self, *args, object_id: str, **kwargs) -> str:
        return self.model_admin.url("change", object_id)


class _OneJobAction(JobAdminAction):
    """An action on the job ``object_id``; back to its page with what happened."""

    def post(self, request, object_id: str):
        try:
            job, message = self.apply(object_id)
        except (InvalidJobId, JobNotFound):
            return self.job_missing(object_id)
        except InvalidTransition as refusal:
            # The job changed since the page was drawn: say so, change nothing, show it as it is now.
            logger.info("admin action refused for job %s: %s", object_id, refusal)
            self.message(f"Nothing was changed: {refusal}.", messages.ERROR)
            return self.redirect_to("change", object_id)
        self.message(message, messages.SUCCESS)
        return self.redirect_to("change", job.id)

    def apply(self, object_id: str):
        """Do the action; the job after it and the message for the operator."""
        raise NotImplementedError


@method_decorator(require_POST, name="dispatch")
class RetryJobView(_OneJobAction):
    """Retry a failed job now, or make a delayed pending job due now."""

    def apply(self, object_id: str):
        before = services.get_job(object_id)
        job = services.retry_job_now(object_id)
        if before.status == Status.FAILED:
            change = f"Retried now (was failed): attempt {job.retry_count + 1} of {job.max_retries + 1}."
        else:
            change = "Made due now (was delayed)."
        self.model_admin.log_job_change(self.request, job, change)
        return job, f"The {job.type} job {job.id} is pending and due now. {change}"


@method_decorator(require_POST, name="dispatch")
class CancelJobView(_OneJobAction):
    """Cancel a job as ``POST /jobs/<id>/cancel`` does: a pending one at once, so that no
    worker ever claims it; a running one by asking its handler to stop."""

    def apply(self, object_id: str):
        job = services.cancel_job_request(object_id)
        if job.status == Status.CANCELLED:
            self.model_admin.log_job_change(self.request, job, "Cancelled (was pending).")
            return job, f"The {job.type} job {job.id} was cancelled; it will not run."
        self.model_admin.log_job_change(self.request, job, "Cancel requested (was processing).")
        return job, (
            f"Cancel requested for the {job.type} job {job.id}: it is still processing; "
            "the handler stops at its next check (within one lease renewal)."
        )


@method_decorator(require_POST, name="dispatch")
class RetryFailedView(JobAdminAction):
    """POST ``type``: retry now every failed job of that type."""

    def post(self, request):
        job_type = request.POST.get("type", "").strip()
        if not job_type:
            self.message("Choose a job type to retry.", messages.ERROR)
            return self.redirect_to("dashboard")
        count = services.retry_failed_jobs(type=job_type)
        noun = "job" if count == 1 else "jobs"
        change = f"Retried {count} failed {job_type} {noun} now."
        self.model_admin.log_bulk_action(
            request, description=f"{count} failed {job_type} {noun}", flag=CHANGE, message=change
        )
        if count:
            self.message(f"{change} They are pending and due now.", messages.SUCCESS)
        else:
            self.message(f"No failed {job_type} job to retry.", messages.WARNING)
        return self.redirect_to("dashboard")


@method_decorator(require_http_methods(["GET", "POST"]), name="dispatch")
class DeleteFinishedView(JobAdminAction):
    """GET ``days``: the confirmation page. POST ``days``: delete completed, failed and
    cancelled jobs that finished over that many days ago."""

    def get(self, request):
        days = self._days(request.GET)
        if days is None:
            return self.redirect_to("dashboard")
        context = {
            **self.model_admin.admin_context(request),
            "title": "Are you sure?",
            "days": f"{days:g}",
            "cutoff": utc_now() - timedelta(days=days),
            "delete_finished_url": self.model_admin.url("delete_finished"),
        }
        return TemplateResponse(request, "admin/jobs/delete_finished_confirmation.html", context)

    def post(self, request):
        days = self._days(request.POST)
        if days is None:
            return self.redirect_to("dashboard")
        try:
            count = services.delete_finished_jobs(older_than_days=days)
        except JobValidationError as error:
            self.message(str(error), messages.ERROR)
            return self.redirect_to("dashboard")
        noun = "job" if count == 1 else "jobs"
        change = f"Deleted {count} finished {noun} (completed, failed or cancelled over {days:g} days ago)."
        self.model_admin.log_bulk_action(request, description=f"{count} finished {noun}", flag=DELETION, message=change)
        self.message(change, messages.SUCCESS if count else messages.WARNING)
        return self.redirect_to("dashboard")

    def _days(self, data) -> float | None:
        """The ``days`` asked for (default ``DEFAULT_PURGE_DAYS``); ``None``, with a message, for a bad one."""
        days_text = data.get("days", str(DEFAULT_PURGE_DAYS)).strip()
        try:
            days = float(days_text)
        except ValueError:
            days = None
        if days is None or not 0 <= days < float("inf"):
            self.message(f"“{days_text}” is not a number of days (0 or more).", messages.ERROR)
            return None
        return days
