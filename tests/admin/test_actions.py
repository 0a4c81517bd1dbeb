"""Operator actions: retry, cancel, bulk retry, delete finished; POST, CSRF, admin log."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from jobs import services
from jobs.domain import Status
from jobs.models import JobRecord
from jobs.timeutil import utc_now
from tests.admin.support import DASHBOARD, JOB_LIST, follow, job_log, job_url, make_user, messages_of, text


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


def test_cancel_asks_a_processing_job_to_stop_and_its_worker_hears_of_it(admin_client, jobs, store):
    job = jobs.processing("noop")
    assert 'id="cancel-job"' in admin_client.get(job_url(job.id)).content.decode()

    response = admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert response["Location"] == job_url(job.id)
    asked = services.get_job(job.id)
    assert (asked.status, asked.cancel_requested) == (Status.PROCESSING, True)
    assert asked.lease == job.lease  # the worker still holds it: its handler decides when to stop
    renewal = store.renew([job], now=utc_now(), lease_seconds=30)
    assert renewal.cancel_requested == {job.id}  # what the worker hands on as ``context.cancelled``
    page = follow(admin_client, response)
    assert messages_of(page) == [
        f"Cancel requested for the noop job {job.id}: it is still processing; "
        "the handler stops at its next check (within one lease renewal)."
    ]
    assert 'class="success"' in page.content.decode()
    [entry] = job_log(job.id)
    assert entry.get_change_message() == "Cancel requested (was processing)."


def test_the_page_of_a_job_asked_to_cancel_shows_it_and_offers_no_second_cancel(admin_client, jobs):
    job = jobs.processing("noop")
    admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    page = admin_client.get(job_url(job.id))

    assert 'id="cancel-job"' not in page.content.decode()
    assert "cancel requested: the handler is told at the next lease renewal" in text(page)
    assert "Cancel requested yes (cancelRequested)" in text(page)


@pytest.mark.parametrize("finished", ["completed", "failed", "cancelled"])
def test_cancel_of_a_finished_job_is_refused_and_changes_nothing(admin_client, jobs, finished):
    job = getattr(jobs, finished)("noop")

    response = admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert response["Location"] == job_url(job.id)
    assert services.get_job(job.id) == job
    after = follow(admin_client, response)
    assert messages_of(after) == [
        f"Nothing was changed: job {job.id} is {finished}: only pending or processing jobs can be cancelled."
    ]
    assert 'class="error"' in after.content.decode()
    assert job_log(job.id) == []


def test_an_action_on_a_job_whose_state_changed_meanwhile_is_refused(admin_client, jobs, store):
    job = jobs.pending("noop")
    page = admin_client.get(job_url(job.id))
    assert 'id="cancel-job"' in page.content.decode()
    services.cancel_job_request(job.id)  # someone cancelled it over the API meanwhile
    before = services.get_job(job.id)

    response = admin_client.post(f"{JOB_LIST}{job.id}/cancel/")

    assert services.get_job(job.id) == before
    after = follow(admin_client, response)
    assert messages_of(after) == [
        f"Nothing was changed: job {job.id} is cancelled: only pending or processing jobs can be cancelled."
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
