"""The job list: columns, filters, search by id, cursor pages."""

import html
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertTemplateUsed

import jobs.admin.job_list as jobs_admin
from jobs import services
from jobs.services import decode_list_cursor as decode_cursor
from jobs.templatetags.jobs_admin import format_list_time
from jobs.timeutil import utc_now
from tests.admin.support import (
    JOB_LIST,
    TRACEBACK,
    job_ids_on_page,
    job_url,
    messages_of,
    newest_first,
    text,
)


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
    assertContains(response, '<li class="selected"><a href="?type=email">email (2)</a></li>', html=True)
    assert '<a href="?status=failed&amp;type=email">failed (1)</a>' in page
    assert '<a href="?">&#10006; Clear all filters</a>' in page
    assert "Filtered" in text(response)


def test_job_list_filter_headings_are_drawn_by_the_admins_own_filter_template(admin_client, jobs):
    # Django's template puts a space between the open/closed arrow and "By …": "↓ By status".
    response = admin_client.get(JOB_LIST)

    assertTemplateUsed(response, "admin/filter.html")
    summaries = re.findall(r"<summary>(.*?)</summary>", response.content.decode(), re.S)
    assert [summary.strip() for summary in summaries] == ["By status", "By type", "By has error"]
    assert all(summary.startswith((" ", "\n")) for summary in summaries)


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
