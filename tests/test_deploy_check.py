"""The README's production environment passes `manage.py check --deploy` with no warning."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_production_environment() -> dict[str, str]:
    """The ``export NAME=VALUE`` lines of the README's "Production settings" block;
    a ``<placeholder>`` becomes a fresh random value."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Production settings", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]
    environment = {}
    for name, value in re.findall(r"^export (\w+)=(.*)$", block, re.M):
        environment[name] = secrets.token_urlsafe(50) if value.startswith("<") else value
    return environment


def check_deploy(extra: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "JOBQUEUE_"))}
    env = {**base, "JOBQUEUE_VAR_DIR": str(tmp_path / "var"), **extra}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_production_environment_passes_check_deploy(tmp_path):
    environment = readme_production_environment()
    assert {"DJANGO_SECURE_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_BEHIND_TLS_PROXY"} <= set(environment)

    result = check_deploy(environment, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_it_check_deploy_warns(tmp_path):
    result = check_deploy({}, tmp_path)

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout
