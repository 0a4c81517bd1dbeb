"""Fixtures of the admin tests: each runs on every store (see the root conftest's ``store``)."""

import pytest
from django.test import Client

from tests.admin.support import JobFactory, make_user


@pytest.fixture
def admin_client(store):
    """A client logged in as a superuser, on each store."""
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def jobs(store):
    return JobFactory(store)
