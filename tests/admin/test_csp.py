"""The admin's Content-Security-Policy, and pages that keep to it (the browser test checks
the console too)."""

import re

from django.test import Client

from tests.admin.support import DASHBOARD, JOB_LIST, job_url


def test_admin_pages_send_a_policy_without_inline_script_or_style(admin_client, jobs):
    response = admin_client.get(DASHBOARD)

    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_the_login_page_sends_the_policy_too(store):
    assert "script-src 'self'" in Client().get("/admin/login/")["Content-Security-Policy"]


def test_dashboard_list_job_page_and_confirmation_have_no_inline_script_or_style(admin_client, jobs):
    failed = jobs.failed("email")
    jobs.processing("noop")
    pages = [DASHBOARD, JOB_LIST, job_url(failed.id), f"{JOB_LIST}bulk/delete-finished/?days=3"]

    for url in pages:
        page = admin_client.get(url).content.decode()
        assert not re.search(r"\sstyle=", page), url
        assert not re.search(r"<style", page), url
        inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", page) if "src=" not in tag]
        assert inline_scripts == [], url
        assert not re.search(r"\son[a-z]+=", page), url  # no event-handler attributes


def test_the_json_api_is_excluded_from_the_policy_and_the_admin_is_not(store):
    client = Client()

    assert "Content-Security-Policy" not in client.get("/stats")
    assert "Content-Security-Policy" not in client.post("/jobs", {"type": "noop"}, content_type="application/json")
    assert "Content-Security-Policy" in client.get("/admin/login/")


def test_a_changed_exclusion_takes_effect_at_once(store, settings):
    client = Client()
    assert "Content-Security-Policy" not in client.get("/stats")

    settings.CONTENT_SECURITY_POLICY = {**settings.CONTENT_SECURITY_POLICY, "EXCLUDE_URL_PREFIXES": ["/jobs"]}

    assert "Content-Security-Policy" in client.get("/stats")
    assert "Content-Security-Policy" not in client.get("/jobs")
