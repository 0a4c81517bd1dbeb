"""Jobs in the admin: the registration, its permissions, URLs and admin-log entries."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from django.urls import path, reverse

from jobs.admin import actions, queue_actions
from jobs.admin.job_list import JobListView
from jobs.admin.job_page import JobPageView
from jobs.models import JobRecord


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    """Jobs, whichever store holds them: the views read and act through ``jobs.services``.

    ``JobRecord`` gives jobs their place in the admin (index entry, URLs, the permissions
    ``jobs.view_jobrecord`` and ``jobs.change_jobrecord``, the admin log's content type);
    the views never query its table. Viewing needs the view permission (or change, as
    everywhere in the admin); actions need change. Jobs are never added or deleted one by
    one here: they come from the API, and finished ones are purged in bulk.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        """The job views, each behind ``admin_site.admin_view`` (staff login, no caching)."""
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(view_class):
            return self.admin_site.admin_view(view_class.as_view(model_admin=self))

        return [
            path("", view(JobListView), name=f"{prefix}_changelist"),
            path("bulk/retry-failed/", view(actions.RetryFailedView), name=f"{prefix}_retry_failed"),
            path("bulk/delete-finished/", view(actions.DeleteFinishedView), name=f"{prefix}_delete_finished"),
            path("queues/pause/", view(queue_actions.PauseQueueView), name=f"{prefix}_pause_queue"),
            path("queues/resume/", view(queue_actions.ResumeQueueView), name=f"{prefix}_resume_queue"),
            path("<str:object_id>/change/", view(JobPageView), name=f"{prefix}_change"),
            path("<str:object_id>/retry/", view(actions.RetryJobView), name=f"{prefix}_retry"),
            path("<str:object_id>/cancel/", view(actions.CancelJobView), name=f"{prefix}_cancel"),
            path("<str:object_id>/", view(actions.JobRedirectView)),
        ]

    def url(self, name: str, *args) -> str:
        """The URL of one of this admin's views (``changelist``, ``change``, ``retry``…)."""
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def dashboard_url(self) -> str:
        return reverse(f"{self.admin_site.name}:jobs_dashboard")

    def admin_context(self, request: HttpRequest) -> dict:
        """What every job page's template needs from the admin around it."""
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "dashboard_url": self.dashboard_url(),
            "list_url": self.url("changelist"),
            "has_view_permission": self.has_view_permission(request),
            "has_change_permission": self.has_change_permission(request),
        }

    def log_job_change(self, request: HttpRequest, job, message: str) -> None:
        """Record an operator action on one job in the admin log (who, when, which job, what)."""
        self.log_change(request, JobRecord(id=job.id, type=job.type), message)

    def log_bulk_action(self, request: HttpRequest, *, description: str, flag: int, message: str) -> None:
        """Record an action on many jobs (no single object) in the admin log."""
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=self.get_content_type(),
            object_id=None,
            object_repr=description[:200],
            action_flag=flag,
            change_message=message,
        )

    def get_content_type(self) -> ContentType:
        return ContentType.objects.get_for_model(JobRecord)

    def job_log(self, *, job_id: str | None = None, limit: int = 20):
        """Admin-log entries about jobs, newest first: one job's, or all of them."""
        entries = LogEntry.objects.filter(content_type=self.get_content_type()).select_related("user")
        if job_id is not None:
            entries = entries.filter(object_id=job_id)
        return entries[:limit]
