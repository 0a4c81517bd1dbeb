"""Who may see and do what: login, staff, view and change permissions."""

from django.test import Client

from jobs import services
from jobs.domain import Status
from tests.admin.support import DASHBOARD, JOB_LIST, job_log, job_url, make_user


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


def test_view_permission_cannot_ask_a_running_job_to_stop(store, jobs):
    running = jobs.processing("noop")
    client = Client()
    client.force_login(make_user("watcher", perms=("view_jobrecord",)))

    assert 'id="cancel-job"' not in client.get(job_url(running.id)).content.decode()
    assert client.post(f"{JOB_LIST}{running.id}/cancel/").status_code == 403
    assert services.get_job(running.id) == running
    assert job_log(running.id) == []


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
