"""Admin login lockout (django-axes): 5 failures per username or address in 15 minutes."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-password-42"


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def login(client, username, password, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_failures_lock_the_username_even_for_the_right_password(root, caplog):
    client = Client()
    for attempt in range(5):
        login(client, "root", f"wrong-{attempt}", address=f"10.0.0.{attempt + 1}")

    refused = login(client, "root", PASSWORD, address="10.9.9.9")

    assert refused.status_code == 429
    assert not logged_in(client)
    root.refresh_from_db()
    assert root.last_login is None
    assert "Locking out" in caplog.text


def test_five_failures_from_one_address_lock_that_address_for_every_username(root):
    client = Client()
    for attempt in range(5):
        login(client, f"guess{attempt}", "wrong", address="10.0.0.7")

    assert login(client, "root", PASSWORD, address="10.0.0.7").status_code == 429
    assert not logged_in(client)
    assert login(Client(), "root", PASSWORD, address="10.0.0.8").status_code == 302


def test_four_failures_do_not_lock(root):
    client = Client()
    for attempt in range(4):
        login(client, "root", f"wrong-{attempt}")

    assert login(client, "root", PASSWORD).status_code == 302
    assert logged_in(client)


def test_lockout_ends_after_the_cool_down(root):
    client = Client()
    for attempt in range(5):
        login(client, "root", f"wrong-{attempt}")
    assert login(client, "root", PASSWORD).status_code == 429

    # 16 minutes pass: move the recorded failures back instead of waiting.
    for record in AccessAttempt.objects.all():
        record.attempt_time -= timedelta(minutes=16)
        record.save()

    assert login(client, "root", PASSWORD).status_code == 302
    assert logged_in(client)


def test_superusers_see_the_failed_attempts_in_the_admin(root):
    for attempt in range(5):
        login(Client(), "root", f"wrong-{attempt}", address="10.0.0.3")
    viewer = Client()
    # Another superuser: a successful login of root would reset root's failures.
    viewer.force_login(User.objects.create_superuser("auditor", "auditor@example.com", PASSWORD))

    page = viewer.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert "10.0.0.3" in page.content.decode()
    assert "Locked Out" in page.content.decode()
