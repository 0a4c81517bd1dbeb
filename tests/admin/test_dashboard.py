"""The operator dashboard: counts, latency, charts, pools, the store, recent actions."""

import re
from datetime import timedelta

from jobs.domain import PoolInfo
from jobs.timeutil import utc_now
from tests.admin.support import DASHBOARD, JOB_LIST, text


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


def test_a_failure_stays_on_the_chart_after_the_job_is_retried(admin_client, jobs):
    failed = jobs.failed("noop")
    admin_client.post(f"{JOB_LIST}{failed.id}/retry/")  # pending again: the job has no finishedAt now

    response = admin_client.get(DASHBOARD)

    assert response.context["hour_totals"] == {"completed": 0, "failed": 1}
    assert "Jobs finished per minute, last hour: 0 completed, 1 failed" in response.content.decode()


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


def test_the_dashboard_is_a_view_of_the_projects_admin_site():
    from django.contrib import admin
    from django.urls import resolve

    from jobs.admin_site import JobQueueAdminSite

    match = resolve(DASHBOARD)

    assert isinstance(admin.site, JobQueueAdminSite)
    assert (match.namespace, match.url_name) == ("admin", "jobs_dashboard")  # the site's URLs, not the project's
