"""Users, jobs and page readers shared by the admin tests."""

import html
import re
from datetime import timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType

from jobs import services
from jobs.domain import Attempt, Outcome
from jobs.models import JobRecord
from jobs.results import Completed, Failed
from jobs.timeutil import truncate_ms, utc_now
from tests.results_support import record

DASHBOARD = "/admin/jobs/"
JOB_LIST = "/admin/jobs/jobrecord/"
EMAIL = {"to": "ops@example.com", "subject": "Hi", "body": "Hello"}
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/jobs/handlers.py", line 12, in send\n'
    "    smtp.send(message)\n"
    "ConnectionRefusedError: [Errno 111] Connection refused <smtp.example.com>"
)


def job_url(job_id: str) -> str:
    return f"{JOB_LIST}{job_id}/change/"


# --- making users and jobs ------------------------------------------------------------------


def make_user(username: str, *, perms: tuple[str, ...] = (), staff: bool = True, superuser: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "a-long-test-password")
    user.is_staff = staff
    user.is_superuser = superuser
    user.save()
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="jobs", codename=codename))
    return user


class JobFactory:
    """Jobs in every state, made through the services and the store's worker API."""

    def __init__(self, store):
        self.store = store
        self._priority = 1_000_000

    def pending(self, type: str = "noop", payload=None, **options):
        return services.enqueue(type, EMAIL if type == "email" and payload is None else payload, **options)

    def _claimed(self, type: str, *, max_retries: int = 3, now=None, payload=None):
        # A priority above any other pending job's: the claim below takes this one.
        self._priority -= 1
        now = now or utc_now()
        job = self.pending(type, payload, max_retries=max_retries, priority=self._priority, clock=lambda: now)
        claimed = self.store.claim(owner="worker-host:42", limit=1, now=now, lease_seconds=30)
        assert [c.id for c in claimed] == [job.id]
        return claimed[0]

    def processing(self, type: str = "noop"):
        return self._claimed(type)

    def completed(self, type: str = "noop", *, finished_at=None, result=None):
        finished_at = truncate_ms(finished_at or utc_now())
        job = self._claimed(type, now=finished_at - timedelta(seconds=2))
        attempt = Attempt(
            started_at=finished_at - timedelta(seconds=2),
            finished_at=finished_at,
            worker="worker-host:42",
            outcome=Outcome.COMPLETED.value,
        )
        assert record(self.store, Completed(job, attempt, result=result), now=finished_at)
        return services.get_job(job.id)

    def failed(self, type: str = "noop", *, error: str = TRACEBACK, finished_at=None, payload=None):
        finished_at = truncate_ms(finished_at or utc_now())
        job = self._claimed(type, max_retries=0, now=finished_at - timedelta(seconds=1), payload=payload)
        attempt = Attempt(
            started_at=finished_at - timedelta(milliseconds=1500),
            finished_at=finished_at,
            worker="worker-host:42",
            outcome=Outcome.FAILED.value,
            error=error,
        )
        assert record(self.store, Failed(job, attempt), now=finished_at)
        return services.get_job(job.id)

    def cancelled(self, type: str = "noop"):
        return services.cancel_job(self.pending(type).id)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def follow(client, response):
    """Follow one redirect, as a browser would, and return the next page."""
    assert response.status_code == 302, response.status_code
    return client.get(response["Location"])


def newest_first(*jobs) -> list[str]:
    """Ids in the list's order: newest ``createdAt`` first, ties by newest id."""
    return [job.id for job in sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)]


def job_ids_on_page(response) -> list[str]:
    return re.findall(r'<tr data-job-id="([0-9a-f]{24})">', response.content.decode())


def text(response) -> str:
    """The page's text with tags removed and whitespace collapsed, as a reader sees it."""
    without_tags = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def job_log(job_id: str) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(JobRecord)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=job_id))
