"""Schedules in the admin, on every store: the list shows next and last runs; add,
enable/disable and delete go through the services; refusals change nothing."""

from django.test import Client

from jobs import schedule_services
from tests.admin.support import make_user

LIST = "/admin/jobs/schedulerecord/"
NIGHTLY = {"name": "nightly", "type": "noop", "cron": "0 3 * * *", "timezone": "Europe/Paris"}


def test_the_list_shows_each_schedules_next_and_last_run(admin_client):
    schedule_services.create_schedule(NIGHTLY)
    schedule = schedule_services.get_schedule("nightly")

    page = admin_client.get(LIST)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-schedule="nightly"' in html
    assert "0 3 * * *" in html and "Europe/Paris" in html
    assert schedule.next_run_at.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "never" in html  # no run yet


def test_adding_a_schedule_from_the_admin(admin_client):
    response = admin_client.post(
        f"{LIST}add/",
        {
            "name": "hourly",
            "type": "noop",
            "payload": "{}",
            "cron": "@hourly",
            "timezone": "UTC",
            "queue": "default",
            "priority": "0",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert schedule_services.get_schedule("hourly").cron == "@hourly"


def test_a_bad_cron_in_the_admin_form_is_shown_and_nothing_is_stored(admin_client):
    response = admin_client.post(
        f"{LIST}add/",
        {
            "name": "bad",
            "type": "noop",
            "payload": "{}",
            "cron": "every hour",
            "timezone": "Nowhere/Town",
            "queue": "default",
            "priority": "0",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "not a cron expression" in html and "Unknown time zone" in html
    assert schedule_services.list_schedules() == []


def test_disable_enable_and_delete_buttons(admin_client):
    schedule_services.create_schedule(NIGHTLY)

    assert admin_client.post(f"{LIST}nightly/toggle/").status_code == 302
    assert schedule_services.get_schedule("nightly").enabled is False
    admin_client.post(f"{LIST}nightly/toggle/")
    assert schedule_services.get_schedule("nightly").enabled is True

    assert admin_client.post(f"{LIST}nightly/delete/").status_code == 302
    assert schedule_services.list_schedules() == []


def test_a_viewer_sees_the_list_but_cannot_change_it(store):
    schedule_services.create_schedule(NIGHTLY)
    client = Client()
    client.force_login(make_user("viewer", perms=("view_schedulerecord",)))

    assert client.get(LIST).status_code == 200
    assert client.post(f"{LIST}nightly/toggle/").status_code == 403
    assert client.post(f"{LIST}nightly/delete/").status_code == 403
    assert client.get(f"{LIST}add/").status_code == 403
    assert schedule_services.get_schedule("nightly").enabled is True
