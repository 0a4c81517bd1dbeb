"""Named queues on the dashboard: the table, pause and resume (POST, CSRF, admin log,
change permission), the retention in force, and the job list filtered by queue."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from jobs import services
from tests.admin.support import DASHBOARD, JOB_LIST, follow, job_ids_on_page, make_user, messages_of

PAUSE = f"{JOB_LIST}queues/pause/"
RESUME = f"{JOB_LIST}queues/resume/"


def queue_row(page, name: str) -> str:
    html = page.content.decode()
    start = html.index(f'<tr data-queue="{name}">')
    return html[start : html.index("</tr>", start)]


def test_the_dashboard_lists_queues_with_a_pause_button_and_the_retention(admin_client, store):
    services.enqueue("noop", queue="emails")

    page = admin_client.get(DASHBOARD)

    row = queue_row(page, "emails")
    assert "running" in row and ">Pause</button>" in row and 'name="csrfmiddlewaretoken"' in row
    assert 'data-queue="default"' in page.content.decode()
    assert "completed 7 days, failed 30 days, cancelled 7 days" in page.content.decode()


def test_pause_and_resume_from_the_dashboard_are_logged(admin_client, store):
    services.enqueue("noop", queue="emails")

    response = admin_client.post(PAUSE, {"name": "emails"})

    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert store.paused_queues() == {"emails"}
    page = follow(admin_client, response)
    assert messages_of(page) == ["Paused queue emails."]
    assert "paused" in queue_row(page, "emails") and ">Resume</button>" in queue_row(page, "emails")

    admin_client.post(RESUME, {"name": "emails"})
    assert store.paused_queues() == set()
    entries = LogEntry.objects.order_by("action_time")
    assert [(e.object_repr, e.action_flag, e.get_change_message()) for e in entries] == [
        ("queue emails", CHANGE, "Paused queue emails."),
        ("queue emails", CHANGE, "Resumed queue emails."),
    ]


@pytest.mark.parametrize("name", ["", "Bad Name", "x" * 65])
def test_a_bad_queue_name_changes_nothing(admin_client, store, name):
    response = admin_client.post(PAUSE, {"name": name})

    assert messages_of(follow(admin_client, response))[0].startswith("Nothing was changed:")
    assert store.paused_queues() == set()
    assert not LogEntry.objects.exists()


def test_pausing_needs_post_csrf_and_the_change_permission(store):
    assert Client().post(PAUSE, {"name": "emails"}).status_code == 302  # to the login page
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(make_user("root", superuser=True))
    assert csrf.post(PAUSE, {"name": "emails"}).status_code == 403
    viewer = Client()
    viewer.force_login(make_user("viewer", perms=("view_jobrecord",)))
    assert viewer.post(PAUSE, {"name": "emails"}).status_code == 403
    admin = Client()
    admin.force_login(make_user("admin", superuser=True))
    assert admin.get(PAUSE).status_code == 405
    assert store.paused_queues() == set()


def test_the_job_list_filters_by_queue(admin_client, store):
    email = services.enqueue("noop", queue="emails")
    services.enqueue("noop")

    assert job_ids_on_page(admin_client.get(f"{JOB_LIST}?queue=emails")) == [email.id]
