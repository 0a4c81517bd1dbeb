"""The API's content negotiation: JSON unless the client asks for the browsable API,
the same answer on the shortcut (``Accept: */*`` or none) as through DRF's own."""

import pytest
from django.test import Client


@pytest.fixture
def client(store, settings):
    settings.JOBQUEUE_API_AUTH = "open"
    return Client()


@pytest.mark.parametrize("accept", [None, "*/*", " */* ", "application/json", "application/json, */*;q=0.8"])
def test_json_is_answered_to_clients_that_accept_it(client, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = client.get("/stats", **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_browser_gets_the_browsable_api(client):
    response = client.get("/stats", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_the_format_query_parameter_still_chooses_the_renderer(client):
    response = client.get("/stats?format=api")

    assert response["Content-Type"].startswith("text/html")


def test_an_accept_header_nothing_matches_is_still_refused(client):
    response = client.get("/stats", HTTP_ACCEPT="image/png")

    assert response.status_code == 406
