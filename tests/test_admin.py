"""The operator dashboard, job list, job page and actions in the Django admin.

Every page test runs on each store (the ``store`` fixture: the SQL store, mongomock
and, with ``MONGODB_URI`` set, a real MongoDB): the admin reads and acts only through
``jobs.services``, so it must look the same on all of them. The chart and formatting
helpers are pure functions, tested on their own at the end.
"""

import html
import io
import os
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

import jobs.admin as jobs_admin
from jobs import charts, services
from jobs.admin import first_line, format_duration, format_list_time
from jobs.models import Attempt, JobRecord, Outcome, PoolInfo, Status, Throughput
from jobs.results import Completed, Failed
from jobs.services import decode_list_cursor as decode_cursor
from jobs.services import encode_list_cursor as encode_cursor
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


@pytest.fixture
def admin_client(store):
    """A client logged in as a superuser, on each store."""
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


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

    def completed(self, type: str = "noop", *, finished_at=None):
        finished_at = truncate_ms(finished_at or utc_now())
        job = self._claimed(type, now=finished_at - timedelta(seconds=2))
        attempt = Attempt(
            started_at=finished_at - timedelta(seconds=2),
            finished_at=finished_at,
            worker="worker-host:42",
            outcome=Outcome.COMPLETED.value,
        )
        assert record(self.store, Completed(job, attempt), now=finished_at)
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


@pytest.fixture
def jobs(store):
    return JobFactory(store)


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


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_counts_jobs_per_status_each_linking_to_the_filtered_list(admin_client, jobs):
    jobs.pending("email")
    jobs.pending("noop")
    jobs.failed("email")
    jobs.completed("noop")
    jobs.completed("noop")
    jobs.cancelled("noop")

    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    counts = {card["status"]: card["count"] for card in response.context["status_cards"]}
    assert counts == {"pending": 2, "processing": 0, "completed": 2, "failed": 1, "cancelled": 1}
    page = response.content.decode()
    for status, count in counts.items():
        assert re.search(
            rf'<a class="jobs-card jobs-card--{status}" href="/admin/jobs/jobrecord/\?status={status}"[^>]*>\s*'
            rf'<span class="jobs-card-count">{count}</span>',
            page,
        ), status
    assert response.context["total"] == 6


def test_dashboard_counts_per_type_and_status_link_to_the_list_filtered_by_both(admin_client, jobs):
    jobs.failed("email")
    jobs.failed("email")
    jobs.pending("noop")

    response = admin_client.get(DASHBOARD)

    page = response.content.decode()
    assert (
        '<a href="/admin/jobs/jobrecord/?type=email&amp;status=failed" '
        'class="jobs-count jobs-count--failed" data-status="failed">2</a>'
    ) in page
    assert '<a href="/admin/jobs/jobrecord/?type=noop&amp;status=pending"' in page
    rows = {
        row["type"]: {cell["status"]: cell["count"] for cell in row["cells"]} for row in response.context["type_rows"]
    }
    assert rows["email"]["failed"] == 2
    assert rows["noop"] == {"pending": 1, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0}


def test_dashboard_shows_queue_latency_and_delayed_jobs(admin_client, jobs):
    five_minutes_ago = utc_now() - timedelta(minutes=5)
    jobs.pending("noop", clock=lambda: five_minutes_ago)
    jobs.pending("noop", delay_seconds=3600)
    jobs.pending("noop", delay_seconds=7200)

    response = admin_client.get(DASHBOARD)

    page = response.content.decode()
    assert re.search(r'id="queue-latency">5 min( \d+ s)?<', page)
    assert 'id="delayed-count">2<' in page


def test_dashboard_says_when_nothing_is_waiting(admin_client, jobs):
    response = admin_client.get(DASHBOARD)

    assert 'id="queue-latency">nothing waiting<' in response.content.decode()
    assert "No jobs yet" in text(response)


def test_dashboard_draws_throughput_charts_as_inline_svg_without_external_resources(admin_client, jobs):
    jobs.completed("noop")
    jobs.completed("noop")
    jobs.failed("noop")

    response = admin_client.get(DASHBOARD)

    page = response.content.decode()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="jobs-chart"') == 2
    assert "Jobs finished per minute, last hour: 2 completed, 1 failed" in page
    assert "Jobs finished per hour, last 24 hours: 2 completed, 1 failed" in page
    assert ": 2 completed, 1 failed</title>" in page  # the current minute's bar has a tooltip
    # Offline: no script of ours and nothing fetched from another host.
    assert "<script" not in page.split('<div id="content-main"')[1]
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_dashboard_lists_live_worker_pools_and_drops_silent_ones(admin_client, store, settings):
    settings.JOBQUEUE_LEASE_SECONDS = 30
    now = utc_now()
    store.register_pool(
        PoolInfo(
            id="pool-live",
            host="worker-1.internal",
            pid=4242,
            concurrency=8,
            running=3,
            started_at=now - timedelta(hours=2),
            heartbeat_at=now - timedelta(seconds=5),
        )
    )
    store.register_pool(
        PoolInfo(
            id="pool-gone",
            host="worker-2.internal",
            pid=999,
            concurrency=4,
            running=0,
            started_at=now - timedelta(hours=3),
            heartbeat_at=now - timedelta(minutes=5),
        )
    )

    response = admin_client.get(DASHBOARD)

    table = text(response).split("Live worker pools")[-1]
    assert "worker-1.internal 4242" in table
    assert "3 running 8" in table
    assert re.search(r"\d+(\.\d)? s ago", table)
    assert "worker-2.internal" not in table


def test_dashboard_says_which_store_holds_the_jobs(admin_client, store):
    response = admin_client.get(DASHBOARD)

    assert f"Store: {store.describe()}" in text(response)


def test_dashboard_extends_the_admin_with_breadcrumbs(admin_client, jobs):
    response = admin_client.get(DASHBOARD)

    page = response.content.decode()
    assert '<div id="site-name">' in page  # admin/base_site.html
    assert '<div class="breadcrumbs">' in page and '<a href="/admin/">Home</a>' in page
    assert "admin/css/base.css" in page and "jobs/admin.css" in page


def test_admin_index_jobs_app_opens_the_dashboard_and_the_model_the_list(admin_client):
    response = admin_client.get("/admin/")

    page = response.content.decode()
    assert 'href="/admin/jobs/" class="section"' in page
    assert '<a href="/admin/jobs/jobrecord/">Jobs</a>' in page
    assert "/admin/jobs/jobrecord/add/" not in page


# --- job list --------------------------------------------------------------------------------


def test_job_list_shows_newest_first_with_every_column(admin_client, jobs):
    start = utc_now() - timedelta(minutes=10)
    older = jobs.pending("noop", clock=lambda: start)
    newer = jobs.pending("email", clock=lambda: start + timedelta(minutes=1), priority=7)
    failed = jobs.failed("email", error="SMTPError: mailbox full\nmore detail")

    response = admin_client.get(JOB_LIST)

    assert response.status_code == 200
    assert job_ids_on_page(response) == [failed.id, newer.id, older.id]
    page = text(response)
    for header in ("ID", "Type", "Status", "Retries", "Priority", "Run at", "Created", "Updated", "Last error"):
        assert header in page
    row = text_of_row(response, newer.id)
    assert row.split() == [
        newer.id,
        "email",
        "pending",
        "0",
        "/",
        "3",
        "7",
        *short_time(newer.run_at).split(),
        *short_time(newer.created_at).split(),
        *short_time(newer.updated_at).split(),
        "—",
    ]
    assert text_of_row(response, failed.id).endswith("SMTPError: mailbox full")
    assert f'href="{job_url(failed.id)}"' in response.content.decode()


def short_time(moment: datetime) -> str:
    return format_list_time(moment, now=utc_now())


def text_of_row(response, job_id: str) -> str:
    match = re.search(rf'<tr data-job-id="{job_id}">(.*?)</tr>', response.content.decode(), re.S)
    assert match, job_id
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))).strip()


def test_job_list_shows_the_exception_line_of_a_traceback(admin_client, jobs):
    failed = jobs.failed("noop", error=TRACEBACK)

    response = admin_client.get(JOB_LIST)

    assert text_of_row(response, failed.id).endswith(
        "ConnectionRefusedError: [Errno 111] Connection refused <smtp.example.com>"
    )
    assert "&lt;smtp.example.com&gt;" in response.content.decode()  # escaped, not markup


def test_job_list_filters_by_status_type_and_error(admin_client, jobs):
    pending_noop = jobs.pending("noop")
    pending_email = jobs.pending("email")
    failed_email = jobs.failed("email")
    completed_noop = jobs.completed("noop")

    by_status = admin_client.get(JOB_LIST, {"status": "pending"})
    by_type = admin_client.get(JOB_LIST, {"type": "email"})

    assert job_ids_on_page(by_status) == newest_first(pending_email, pending_noop)
    assert job_ids_on_page(by_type) == newest_first(failed_email, pending_email)
    assert job_ids_on_page(admin_client.get(JOB_LIST, {"type": "noop", "status": "completed"})) == [completed_noop.id]
    assert job_ids_on_page(admin_client.get(JOB_LIST, {"has_error": "yes"})) == [failed_email.id]
    assert failed_email.id not in job_ids_on_page(admin_client.get(JOB_LIST, {"has_error": "no"}))


def test_job_list_filter_sidebar_marks_the_choice_and_counts(admin_client, jobs):
    jobs.failed("email")
    jobs.pending("email")
    jobs.pending("noop")

    response = admin_client.get(JOB_LIST, {"type": "email"})

    page = response.content.decode()
    assert '<li class="selected"><a href="?type=email">email (2)</a></li>' in page
    assert '<a href="?status=failed&amp;type=email">failed (1)</a>' in page
    assert '<a href="?">&#10006; Clear all filters</a>' in page
    assert "Filtered" in text(response)


def test_job_list_ignores_an_unknown_status_with_a_warning(admin_client, jobs):
    job = jobs.pending("noop")

    response = admin_client.get(JOB_LIST, {"status": "bogus"})

    assert job_ids_on_page(response) == [job.id]
    assert messages_of(response) == ["Unknown status “bogus”: that filter was ignored."]


def test_job_list_searches_by_id(admin_client, jobs):
    wanted = jobs.pending("noop")
    jobs.pending("noop")

    found = admin_client.get(JOB_LIST, {"q": wanted.id.upper()})
    missing = admin_client.get(JOB_LIST, {"q": "0" * 24})
    malformed = admin_client.get(JOB_LIST, {"q": "not-an-id"})

    assert job_ids_on_page(found) == [wanted.id]
    assert "1 result" in text(found)
    assert job_ids_on_page(missing) == []
    assert f"No job has the id “{'0' * 24}”" in text(missing)
    assert job_ids_on_page(malformed) == []
    assert "is not a job id" in messages_of(malformed)[0]


def test_job_list_pages_by_cursor_forward_and_back(admin_client, jobs, monkeypatch):
    monkeypatch.setattr(jobs_admin, "PAGE_SIZE", 2)
    start = utc_now() - timedelta(hours=1)
    created = [jobs.pending("noop", clock=lambda i=i: start + timedelta(seconds=i)) for i in range(7)]
    newest_first = [job.id for job in reversed(created)]

    pages, url = [], JOB_LIST
    while url:
        response = admin_client.get(url)
        pages.append(job_ids_on_page(response))
        next_url = response.context["next_url"]
        url = JOB_LIST + next_url if next_url else None
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:6], newest_first[6:7]]

    back_pages = [pages[-1]]
    while response.context["previous_url"]:
        response = admin_client.get(JOB_LIST + response.context["previous_url"])
        back_pages.append(job_ids_on_page(response))
    assert back_pages == list(reversed(pages))
    assert response.context["is_first_page"]


def test_job_list_cursor_keeps_the_filters(admin_client, jobs, monkeypatch):
    monkeypatch.setattr(jobs_admin, "PAGE_SIZE", 1)
    emails = [jobs.pending("email"), jobs.pending("email")]
    jobs.pending("noop")

    first = admin_client.get(JOB_LIST, {"type": "email"})
    second = admin_client.get(JOB_LIST + first.context["next_url"])

    assert parse_qs(urlparse(first.context["next_url"]).query)["type"] == ["email"]
    assert job_ids_on_page(first) + job_ids_on_page(second) == [emails[1].id, emails[0].id]
    assert second.context["next_url"] is None


def test_job_list_page_links_are_cursors_not_offsets(admin_client, jobs, store, monkeypatch):
    monkeypatch.setattr(jobs_admin, "PAGE_SIZE", 2)
    for _ in range(5):
        jobs.pending("noop")

    first = admin_client.get(JOB_LIST)
    with CaptureQueriesContext(connection) as queries:
        second = admin_client.get(JOB_LIST + first.context["next_url"])

    cursor = parse_qs(urlparse(first.context["next_url"]).query)["after"][0]
    last_on_first_page = services.get_job(job_ids_on_page(first)[-1])
    assert decode_cursor(cursor) == (last_on_first_page.created_at, last_on_first_page.id)
    assert len(job_ids_on_page(second)) == 2
    assert not any("OFFSET" in query["sql"].upper() for query in queries.captured_queries)


def test_job_list_with_a_broken_cursor_shows_the_first_page(admin_client, jobs):
    job = jobs.pending("noop")

    response = admin_client.get(JOB_LIST, {"after": "garbage"})

    assert job_ids_on_page(response) == [job.id]
    assert messages_of(response) == ["That page link is not valid; here is the first page."]


# --- job page --------------------------------------------------------------------------------


def test_job_page_shows_every_field_and_the_payload_as_pretty_json(admin_client, jobs):
    job = jobs.pending("noop", {"user": {"id": 7, "name": "Ada <admin>"}, "tags": ["a", "b"]}, priority=5)

    response = admin_client.get(job_url(job.id))

    assert response.status_code == 200
    page = text(response)
    for label in ("ID", "Type", "Status", "Retries", "Attempts made", "Priority", "Run at", "Created", "Updated"):
        assert label in page
    assert job.id in page and "0 / 3" in page
    assert job.created_at.strftime("%Y-%m-%d %H:%M:%S.") + f"{job.created_at.microsecond // 1000:03d}" in page
    payload = re.search(
        r'<pre class="jobs-pre jobs-json" id="job-payload">(.*?)</pre>', response.content.decode(), re.S
    )
    assert html.unescape(payload.group(1)) == (
        '{\n  "tags": [\n    "a",\n    "b"\n  ],\n  "user": {\n    "id": 7,\n    "name": "Ada <admin>"\n  }\n}'
    )
    assert "&lt;admin&gt;" in payload.group(1)


def test_job_page_shows_the_attempt_history_with_folded_tracebacks(admin_client, jobs):
    job = jobs.failed("email")

    response = admin_client.get(job_url(job.id))

    attempts = response.content.decode().split('id="job-attempts"')[1].split("</table>")[0]
    assert "worker-host:42" in attempts
    assert "1.5 s" in attempts  # duration
    assert '<span class="jobs-badge jobs-badge--failed">failed</span>' in attempts
    assert re.search(
        r"<details>\s*<summary>ConnectionRefusedError: \[Errno 111\] Connection refused &lt;smtp.example.com&gt;"
        r'</summary>\s*<pre class="jobs-pre">Traceback \(most recent call last\):',
        attempts,
    )
    assert "<details open" not in attempts  # folded until clicked


def test_job_page_shows_the_lease_of_a_processing_job(admin_client, jobs):
    job = jobs.processing("noop")

    response = admin_client.get(job_url(job.id))

    assert "owner worker-host:42" in text(response)
    assert job.lease.token in text(response)


def test_job_page_for_an_unknown_or_malformed_id_goes_back_to_the_list(admin_client, jobs):
    for job_id in ("0" * 24, "nope"):
        response = admin_client.get(job_url(job_id))

        assert response.status_code == 302 and response["Location"] == JOB_LIST
        assert messages_of(follow(admin_client, response)) == [
            f"Job with ID “{job_id}” does not exist. Perhaps it was deleted?"
        ]


def test_job_page_offers_only_the_actions_its_state_allows(admin_client, jobs):
    def buttons(job):
        page = admin_client.get(job_url(job.id)).content.decode()
        return {name for name in ("retry-now", "cancel-job") if f'id="{name}"' in page}

    assert buttons(jobs.failed("noop")) == {"retry-now"}
    assert buttons(jobs.pending("noop")) == {"cancel-job"}
    assert buttons(jobs.pending("noop", delay_seconds=600)) == {"retry-now", "cancel-job"}
    assert buttons(jobs.completed("noop")) == set()
    assert buttons(jobs.processing("noop")) == set()
    assert buttons(jobs.cancelled("noop")) == set()


# --- actions ---------------------------------------------------------------------------------


def test_retry_now_puts_a_failed_job_back_to_pending_and_logs_it(admin_client, jobs):
    job = jobs.failed("email")

    response = admin_client.post(f"{JOB_LIST}{job.id}/retry/")

    assert response.status_code == 302 and response["Location"] == job_url(job.id)
    retried = services.get_job(job.id)
    assert retried.status == Status.PENDING
    assert retried.run_at <= utc_now()
    assert (retried.retry_count, retried.max_retries) == (job.retry_count + 1, job.max_retries + 1)
    assert retried.attempts == job.attempts  # history kept
    page = follow(admin_client, response)
    assert messages_of(page)[0].startswith(f"The email job {job.id} is pending and due now.")
    assert 'class="success"' in page.content.decode()
    [entry] = job_log(job.id)
    assert entry.user.username == "root"
    assert entry.action_flag == CHANGE
    assert entry.get_change_message() == "Retried now (was failed): attempt 2 of 2."
    assert entry.get_admin_url() == job_url(job.id)
    assert "Retried now (was failed)" in text(page).split("Operator actions")[1]


def test_retry_now_runs_a_delayed_pending_job_now(admin_client, jobs):
    job = jobs.pending("noop", delay_seconds=3600)

    admin_client.post(f"{JOB_LIST}{job.id}/retry/")

    retried = services.get_job(job.id)
    assert retried.status == Status.PENDING and retried.run_at <= utc_now()
    assert retried.retry_count == 0
    assert [entry.get_change_message() for entry in job_log(job.id)] == ["Made due now (was delayed)."]


def test_cancel_makes_a_pending_job_cancelled_and_logs_it(admin_client, jobs, store):
    job = jobs.pending("noop")

    response = admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert services.get_job(job.id).status == Status.CANCELLED
    assert store.claim(owner="w", limit=10, now=utc_now(), lease_seconds=30) == []
    assert messages_of(follow(admin_client, response)) == [f"The noop job {job.id} was cancelled; it will not run."]
    [entry] = job_log(job.id)
    assert entry.get_change_message() == "Cancelled (was pending)."


def test_an_action_on_a_job_whose_state_changed_meanwhile_is_refused(admin_client, jobs, store):
    job = jobs.pending("noop")
    page = admin_client.get(job_url(job.id))
    assert 'id="cancel-job"' in page.content.decode()
    store.claim(owner="worker-host:42", limit=1, now=utc_now(), lease_seconds=30)  # a worker took it meanwhile

    response = admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert services.get_job(job.id).status == Status.PROCESSING
    after = follow(admin_client, response)
    assert messages_of(after) == [
        f"Nothing was changed: job {job.id} is processing, not pending: it cannot be cancelled."
    ]
    assert 'class="error"' in after.content.decode()
    assert job_log(job.id) == []


def test_retry_now_on_a_completed_job_is_refused(admin_client, jobs):
    job = jobs.completed("noop")

    response = admin_client.post(f"{JOB_LIST}{job.id}/retry/")

    assert services.get_job(job.id) == job
    assert "only failed or pending jobs can be retried now" in messages_of(follow(admin_client, response))[0]
    assert job_log(job.id) == []


def test_an_action_on_a_missing_job_says_so(admin_client, jobs):
    response = admin_client.post(f"{JOB_LIST}{'a' * 24}/cancel/")

    assert response["Location"] == JOB_LIST
    assert "does not exist" in messages_of(follow(admin_client, response))[0]


def test_actions_only_accept_post(admin_client, jobs):
    job = jobs.pending("noop")

    for action in ("retry", "cancel"):
        assert admin_client.get(f"{JOB_LIST}{job.id}/{action}/").status_code == 405
    assert admin_client.get(f"{JOB_LIST}bulk/retry-failed/").status_code == 405
    assert services.get_job(job.id).status == Status.PENDING


def test_actions_need_the_csrf_token(store, jobs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("root", superuser=True))
    job = jobs.pending("noop")

    response = client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert response.status_code == 403
    assert services.get_job(job.id).status == Status.PENDING


def test_the_job_page_forms_carry_the_csrf_token(admin_client, jobs):
    job = jobs.failed("noop")

    page = admin_client.get(job_url(job.id)).content.decode()

    form = page.split(f'action="{JOB_LIST}{job.id}/retry/"')[1].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in form


def test_bulk_retry_retries_every_failed_job_of_one_type(admin_client, jobs):
    emails = [jobs.failed("email"), jobs.failed("email")]
    other = jobs.failed("noop")

    response = admin_client.post(f"{JOB_LIST}bulk/retry-failed/", {"type": "email"})

    assert response["Location"] == DASHBOARD
    assert [services.get_job(job.id).status for job in emails] == [Status.PENDING, Status.PENDING]
    assert services.get_job(other.id).status == Status.FAILED
    assert messages_of(follow(admin_client, response)) == [
        "Retried 2 failed email jobs now. They are pending and due now."
    ]
    [entry] = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(JobRecord))
    assert (entry.object_id, entry.object_repr, entry.action_flag) == (None, "2 failed email jobs", CHANGE)
    assert entry.get_change_message() == "Retried 2 failed email jobs now."


def test_bulk_retry_with_nothing_failed_warns(admin_client, jobs):
    response = admin_client.post(f"{JOB_LIST}bulk/retry-failed/", {"type": "email"})

    assert messages_of(follow(admin_client, response)) == ["No failed email job to retry."]


def test_dashboard_offers_bulk_retry_per_type_with_failures(admin_client, jobs):
    jobs.failed("email")
    jobs.pending("noop")

    page = admin_client.get(DASHBOARD).content.decode()

    assert page.count(f'action="{JOB_LIST}bulk/retry-failed/"') == 1
    assert '<input type="hidden" name="type" value="email">' in page


def test_delete_finished_asks_for_confirmation_first(admin_client, jobs):
    old = jobs.completed("noop", finished_at=utc_now() - timedelta(days=40))

    response = admin_client.get(f"{JOB_LIST}bulk/delete-finished/", {"days": "30"})

    assert response.status_code == 200
    assert "finished more than 30 days ago" in text(response)
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
    assert services.get_job(old.id) == old


def test_delete_finished_deletes_only_finished_jobs_older_than_the_days(admin_client, jobs):
    long_ago = utc_now() - timedelta(days=10)
    old_completed = jobs.completed("noop", finished_at=long_ago)
    old_failed = jobs.failed("noop", finished_at=long_ago)
    recent = jobs.completed("noop")
    pending = jobs.pending("noop", clock=lambda: long_ago)

    response = admin_client.post(f"{JOB_LIST}bulk/delete-finished/", {"days": "5"})

    assert response["Location"] == DASHBOARD
    for gone in (old_completed, old_failed):
        with pytest.raises(services.JobNotFound):
            services.get_job(gone.id)
    assert services.get_job(recent.id) == recent
    assert services.get_job(pending.id).status == Status.PENDING
    expected = "Deleted 2 finished jobs (completed, failed or cancelled over 5 days ago)."
    assert messages_of(follow(admin_client, response)) == [expected]
    [entry] = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(JobRecord))
    assert (entry.object_repr, entry.action_flag, entry.get_change_message()) == ("2 finished jobs", DELETION, expected)


@pytest.mark.parametrize("days", ["-1", "soon", "nan", "inf"])
def test_delete_finished_refuses_a_bad_number_of_days(admin_client, jobs, days):
    old = jobs.completed("noop", finished_at=utc_now() - timedelta(days=40))

    response = admin_client.post(f"{JOB_LIST}bulk/delete-finished/", {"days": days})

    assert messages_of(follow(admin_client, response)) == [f"“{days}” is not a number of days (0 or more)."]
    assert services.get_job(old.id) == old


def test_recent_job_actions_appear_on_the_dashboard(admin_client, jobs):
    job = jobs.pending("noop")
    admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    sidebar = admin_client.get(DASHBOARD).content.decode().split('id="recent-actions-module"')[1]

    assert f'<a href="{job_url(job.id)}">noop job {job.id}</a>' in sidebar
    assert "Cancelled (was pending)." in sidebar


# --- permissions -----------------------------------------------------------------------------


def all_pages(job_id: str) -> list[str]:
    return [DASHBOARD, JOB_LIST, job_url(job_id), f"{JOB_LIST}bulk/delete-finished/?days=3"]


def all_actions(job_id: str) -> list[tuple[str, dict]]:
    return [
        (f"{JOB_LIST}{job_id}/retry/", {}),
        (f"{JOB_LIST}{job_id}/cancel/", {}),
        (f"{JOB_LIST}bulk/retry-failed/", {"type": "noop"}),
        (f"{JOB_LIST}bulk/delete-finished/", {"days": "0"}),
    ]


def test_a_logged_out_visitor_is_sent_to_the_admin_login(store, jobs):
    job = jobs.pending("noop")
    client = Client()

    for url in all_pages(job.id):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next="), url
    for url, data in all_actions(job.id):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert services.get_job(job.id).status == Status.PENDING


def test_a_user_who_is_not_staff_is_sent_to_the_login_even_with_permissions(store, jobs):
    client = Client()
    client.force_login(make_user("visitor", staff=False, perms=("view_jobrecord", "change_jobrecord")))

    response = client.get(DASHBOARD)

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_staff_without_the_permission_gets_403(store, jobs):
    job = jobs.pending("noop")
    client = Client()
    client.force_login(make_user("intern"))

    for url in all_pages(job.id):
        assert client.get(url).status_code == 403, url
    for url, data in all_actions(job.id):
        assert client.post(url, data).status_code == 403, url
    assert services.get_job(job.id).status == Status.PENDING


def test_view_permission_shows_the_pages_but_no_actions(store, jobs):
    failed = jobs.failed("noop")
    pending = jobs.pending("noop")
    client = Client()
    client.force_login(make_user("watcher", perms=("view_jobrecord",)))

    for url in all_pages(failed.id)[:3]:
        assert client.get(url).status_code == 200, url
    assert 'id="retry-now"' not in client.get(job_url(failed.id)).content.decode()
    assert 'id="cancel-job"' not in client.get(job_url(pending.id)).content.decode()
    dashboard = client.get(DASHBOARD).content.decode()
    assert "bulk/retry-failed" not in dashboard and "bulk/delete-finished" not in dashboard
    assert client.get(f"{JOB_LIST}bulk/delete-finished/?days=3").status_code == 403
    for url, data in all_actions(failed.id):
        assert client.post(url, data).status_code == 403, url
    assert services.get_job(failed.id).status == Status.FAILED
    assert services.get_job(pending.id).status == Status.PENDING


def test_change_permission_allows_the_actions(store, jobs):
    failed = jobs.failed("noop")
    pending = jobs.pending("noop")
    client = Client()
    client.force_login(make_user("operator", perms=("view_jobrecord", "change_jobrecord")))

    assert 'id="retry-now"' in client.get(job_url(failed.id)).content.decode()
    client.post(f"{JOB_LIST}{failed.id}/retry/")
    client.post(f"{JOB_LIST}{pending.id}/cancel/")

    assert services.get_job(failed.id).status == Status.PENDING
    assert services.get_job(pending.id).status == Status.CANCELLED
    assert {entry.user.username for entry in job_log(failed.id) + job_log(pending.id)} == {"operator"}


def test_jobs_cannot_be_added_or_deleted_one_by_one(admin_client, jobs):
    job = jobs.pending("noop")

    assert admin_client.get(f"{JOB_LIST}add/").status_code == 302  # "add" is no job id: back to the list
    assert admin_client.post(f"{JOB_LIST}{job.id}/delete/").status_code == 404
    assert services.get_job(job.id).status == Status.PENDING


# --- charts (pure) ---------------------------------------------------------------------------


def minute(index: int) -> datetime:
    return datetime(2026, 1, 2, 12, 0, tzinfo=UTC) + timedelta(minutes=index)


def test_chart_stacks_failed_on_completed_with_a_tooltip_per_bucket():
    buckets = [Throughput(minute(0), 3, 1), Throughput(minute(1), 0, 0), Throughput(minute(2), 8, 2)]

    svg = charts.throughput_chart(buckets, title="Per minute", label_every=1)

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert svg.count('class="jobs-chart-completed"') == 2
    assert svg.count('class="jobs-chart-failed"') == 2
    assert "<title>2026-01-02 12:00: 3 completed, 1 failed</title>" in svg
    assert "<title>2026-01-02 12:01: 0 completed, 0 failed</title>" in svg
    assert "<title>Per minute: 11 completed, 3 failed</title>" in svg
    assert [label for label in re.findall(r'class="jobs-chart-label">([^<]+)<', svg) if ":" in label] == [
        "12:00",
        "12:01",
        "12:02",
    ]


def test_chart_bar_heights_are_proportional_to_a_round_axis_maximum():
    layout = charts.ChartLayout(height=130, margin_top=10, margin_bottom=20)  # a 100-pixel plot
    svg = charts.throughput_chart(
        [Throughput(minute(0), 40, 10), Throughput(minute(1), 20, 0)], title="t", layout=layout
    )

    heights = [
        float(h)
        for h in re.findall(r'height="([\d.]+)" fill="#[0-9a-f]+" class="jobs-chart-(?:completed|failed)"', svg)
    ]
    assert heights == [80.0, 20.0, 40.0]  # axis top is 50: 40 -> 80 px, 10 -> 20 px, 20 -> 40 px
    assert [int(v) for v in re.findall(r'class="jobs-chart-label">(\d+)<', svg)] == [0, 10, 20, 30, 40, 50]


def test_chart_labels_every_nth_bucket():
    buckets = [Throughput(minute(i), 1, 0) for i in range(60)]

    svg = charts.throughput_chart(buckets, title="hour", label_every=15)

    assert re.findall(r'class="jobs-chart-label">(\d\d:\d\d)<', svg) == ["12:00", "12:15", "12:30", "12:45"]


def test_chart_labels_fall_on_round_times():
    buckets = [Throughput(minute(i), 1, 0) for i in range(3, 33)]

    svg = charts.throughput_chart(buckets, title="hour", label_every=10)

    assert re.findall(r'class="jobs-chart-label">(\d\d:\d\d)<', svg) == ["12:10", "12:20", "12:30"]


def test_chart_of_an_empty_period_says_so():
    svg = charts.throughput_chart([Throughput(minute(i), 0, 0) for i in range(5)], title="quiet")

    assert "No job finished in this period" in svg
    assert "jobs-chart-completed" not in svg


def test_chart_escapes_its_text():
    svg = charts.throughput_chart(
        [Throughput(minute(0), 1, 0)], title='<script>alert("x")</script> & co', tooltip_format="%H:%M <b>"
    )

    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "&amp; co" in svg
    assert 'aria-label="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co: 1 completed, 0 failed"' in svg


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (420, 500), (5001, 10000)]
)
def test_nice_ceiling_rounds_up_to_1_2_5_times_a_power_of_ten(value, expected):
    assert charts.nice_ceiling(value) == expected


# --- formatting helpers (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "—"),
        (0.25, "250 ms"),
        (1.5, "1.5 s"),
        (42, "42 s"),
        (185, "3 min 5 s"),
        (120, "2 min"),
        (2 * 3600 + 600, "2 h 10 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
    ],
)
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected


def test_list_times_are_short_today_and_dated_before():
    now = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)

    assert format_list_time(datetime(2026, 3, 9, 4, 59, 37, tzinfo=UTC), now=now) == "04:59:37"
    assert format_list_time(datetime(2026, 3, 8, 23, 10, 5, tzinfo=UTC), now=now) == "Mar 8, 23:10"


def test_first_line_takes_the_exception_line_of_a_traceback_and_cuts_long_lines():
    assert first_line(TRACEBACK).startswith("ConnectionRefusedError")
    assert first_line("\n  boom\nsecond line") == "boom"
    assert first_line(None) == "" and first_line("   ") == ""
    assert first_line("x" * 500, limit=10) == "x" * 9 + "…"


def test_cursor_round_trips_and_rejects_garbage(jobs):
    job = jobs.pending("noop")

    assert decode_cursor(encode_cursor(job)) == (job.created_at, job.id)
    for garbage in ("", "123", "abc_" + job.id, "123_notanid", f"-5_{job.id}"):
        with pytest.raises(ValueError):
            decode_cursor(garbage)


# --- benchadmin --------------------------------------------------------------------------------


def test_benchadmin_fills_a_temporary_store_and_times_every_page():
    output = io.StringIO()

    call_command("benchadmin", jobs=300, runs=1, depth=150, stdout=output)

    report = output.getvalue()
    temporary = re.search(r"Temporary database: (\S+)", report).group(1)
    assert temporary != str(settings.DATABASES["default"]["NAME"])
    assert not os.path.exists(temporary)  # cleaned up
    assert re.search(r"Filled in [\d.]+ s: [\d,]+ pending, [\d,]+ processing, [\d,]+ completed", report)
    for page in ("dashboard", "job list, first page", "job list, 150 rows deep", "job page (failed job)"):
        assert re.search(rf"^{re.escape(page)} +[\d.]+ ms", report, re.M), page


def test_benchadmin_child_mode_refuses_to_run_on_the_configured_database():
    with pytest.raises(CommandError, match="for the child process"):
        call_command("benchadmin", jobs=10, in_temporary_database=True)
