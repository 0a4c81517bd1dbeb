"""One job's page: every field, the payload, the attempts and the actions its state allows."""

import json
from urllib.parse import urlencode

from jobs import redaction, services
from jobs.admin.base import JobAdminPage
from jobs.domain import Status
from jobs.services import InvalidJobId, JobNotFound
from jobs.timeutil import utc_now

#: How often a processing job's page reloads itself.
LIVE_REFRESH_SECONDS = 2


class JobPageView(JobAdminPage):
    """The job page. The lease shows its owner and times, never its token: the token
    fences a worker's writes and, like the API, the admin does not hand it out."""

    template_name = "admin/jobs/job_detail.html"

    def get(self, request, *args, object_id: str, **kwargs):
        try:
            self.job = services.get_job(object_id)
        except (InvalidJobId, JobNotFound):
            return self.job_missing(object_id)
        return super().get(request, *args, object_id=object_id, **kwargs)

    def get_context_data(self, **kwargs):
        job, now = self.job, utc_now()
        first_number = job.attempt_count - len(job.attempts) + 1
        is_delayed = job.status == Status.PENDING and job.run_at > now
        list_url = self.model_admin.url("changelist")
        return super().get_context_data(
            title=f"{job.type} job {job.id}",
            job=job,
            lease=job.lease and {key: getattr(job.lease, key) for key in ("owner", "started_at", "expires_at")},
            attempts=[
                {"number": first_number + index, "attempt": attempt} for index, attempt in enumerate(job.attempts)
            ],
            dropped_attempts=job.attempt_count - len(job.attempts),
            payload_json=json.dumps(
                redaction.masked_payload(job.type, job.payload), indent=2, ensure_ascii=False, sort_keys=True
            ),
            result_json=None
            if job.result is None
            else json.dumps(job.result, indent=2, ensure_ascii=False, sort_keys=True),
            progress=job.progress,
            # A running job's page reloads itself (no script: the CSP allows none inline)
            # so its progress and end show live.
            refresh_seconds=LIVE_REFRESH_SECONDS if job.status == Status.PROCESSING else None,
            is_delayed=is_delayed,
            due_in_seconds=(job.run_at - now).total_seconds() if is_delayed else None,
            can_retry=job.status == Status.FAILED or is_delayed,
            # A running job can be asked to stop once; asking again would change nothing.
            can_cancel=job.status == Status.PENDING or (job.status == Status.PROCESSING and not job.cancel_requested),
            cancel_requested=job.cancel_requested and job.status == Status.PROCESSING,
            retry_url=self.model_admin.url("retry", job.id),
            cancel_url=self.model_admin.url("cancel", job.id),
            status_list_url=f"{list_url}?{urlencode({'status': job.status})}",
            type_list_url=f"{list_url}?{urlencode({'type': job.type})}",
            history=self.model_admin.job_log(job_id=job.id),
            **kwargs,
        )
