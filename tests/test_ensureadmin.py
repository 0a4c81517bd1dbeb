"""`make run` creates the first admin account once, from the environment or at random."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory


def login_request():
    """The login form's request: the lockout backend (django-axes) needs one."""
    return RequestFactory().post("/admin/login/")


@pytest.mark.django_db
def test_creates_the_admin_from_the_environment_once(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    out = io.StringIO()

    call_command("ensureadmin", stdout=out)
    call_command("ensureadmin", stdout=out)

    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert authenticate(login_request(), username="ops", password="a-long-password-1") is not None
    assert "a-long-password-1" not in out.getvalue()


@pytest.mark.django_db
def test_without_a_password_prints_a_random_one_that_works(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = io.StringIO()

    call_command("ensureadmin", stdout=out)

    printed = out.getvalue()
    password = printed.split("with password '")[1].split("'")[0]
    assert authenticate(login_request(), username="admin", password=password) is not None
