"""The admin benchmark command."""

import io
import os
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError


def test_benchadmin_fills_a_temporary_store_and_times_every_page():
    output = io.StringIO()

    call_command("benchadmin", jobs=300, runs=1, depth=150, stdout=output)

    report = output.getvalue()
    temporary = re.search(r"Temporary database: (\S+)", report).group(1)
    assert temporary != str(settings.DATABASES["default"]["NAME"])
    assert not os.path.exists(temporary)  # cleaned up
    assert re.search(r"Filled in [\d.]+ s: [\d,]+ pending, [\d,]+ processing, [\d,]+ completed", report)
    for page in ("dashboard", "job list, first page", "job list, 150 rows deep", "job page (failed job)"):
        assert re.search(rf"^{re.escape(page)} +[\d.]+ ms", report, re.M), page


def test_benchadmin_child_mode_refuses_to_run_on_the_configured_database():
    with pytest.raises(CommandError, match="for the child process"):
        call_command("benchadmin", jobs=10, in_temporary_database=True)
