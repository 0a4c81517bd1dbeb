"""The Dockerfile and compose.yaml refer only to what the project has.

No Docker engine runs here or in CI, so the files are parsed instead of built: every
``manage.py`` command and option they run exists, every environment variable they set is
read by the project, the ports agree, and the replica set is the one the URI names.
"""

import json
import re
import shlex
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import resolve

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*ROOT.glob("jobqueue/*.py"), *ROOT.glob("jobs/**/*.py")]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def read_by_the_project(variable: str) -> bool:
    return any(re.search(rf"[\"']{variable}[\"']", path.read_text()) for path in SOURCES)


def check_manage_py(command: list[str]) -> None:
    """``python manage.py NAME [options]``: NAME is a command and its parser takes the options."""
    assert command[:2] == ["python", "manage.py"], command
    name, *arguments = command[2:]
    assert name in get_commands(), f"no management command {name!r}"
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    parser.parse_args(arguments)  # raises CommandError for an option the command lacks


def test_dockerfile_slim_base_non_root_cached_dependencies_serve_and_healthcheck():
    instructions = dockerfile()
    names = [name for name, _ in instructions]
    base = dict(instructions)["FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", base), base

    user = [args for name, args in instructions if name == "USER"]
    assert user and user[-1] not in ("root", "0")
    copies = [(index, args) for index, (name, args) in enumerate(instructions) if name == "COPY"]
    requirements_copy = next(index for index, args in copies if args.split()[0] == "requirements.txt")
    install = next(
        index for index, (name, args) in enumerate(instructions) if "pip install -r requirements.txt" in args
    )
    source_copy = next(index for index, args in copies if args.split()[-2:] == [".", "."])
    assert requirements_copy < install < source_copy, "dependencies must be installed before the source is copied"
    assert (ROOT / "requirements.txt").exists()

    check_manage_py(json.loads(dict(instructions)["CMD"]))  # the JSON array form
    assert dict(instructions)["CMD"] == '["python", "manage.py", "serve"]'
    healthcheck = dict(instructions)["HEALTHCHECK"]
    path = re.search(r"http://127\.0\.0\.1:%s(/\w+)", healthcheck).group(1)
    assert resolve(path).url_name == "healthz"
    assert names.index("USER") < names.index("CMD")


def test_dockerfile_variables_exist_and_the_exposed_port_is_the_default_port():
    env = {}
    for name, args in dockerfile():
        if name == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
    for variable in env:
        if not variable.startswith(("PYTHON", "PIP_")):
            assert read_by_the_project(variable), f"{variable} is not read by the project"
    exposed = [args for name, args in dockerfile() if name == "EXPOSE"]
    assert exposed == [env["PORT"]]


def test_compose_has_a_three_member_replica_set_that_the_uri_names(compose):
    services = compose["services"]
    mongos = {name: service for name, service in services.items() if service.get("image", "").startswith("mongo:")}
    assert len(mongos) == 3
    for service in mongos.values():
        command = service["command"]
        assert command[command.index("--replSet") + 1] == "rs0"
    initiate = " ".join(services["mongo1"]["healthcheck"]["test"])
    assert sorted(re.findall(r"host: '(\w+):27017'", initiate)) == sorted(mongos)

    for name in ("api", "worker"):
        uri = urlsplit(services[name]["environment"]["MONGODB_URI"])
        assert sorted(host.split(":")[0] for host in uri.netloc.split(",")) == sorted(mongos)
        assert parse_qs(uri.query)["replicaSet"] == ["rs0"]


def test_compose_commands_ports_and_variables_exist_in_the_project(compose):
    services = compose["services"]
    api, worker = services["api"], services["worker"]
    assert api["build"] == worker["build"] == "."
    assert worker["deploy"]["replicas"] >= 1 and "ports" not in worker, "workers scale freely: no host port"
    check_manage_py(api["command"])
    check_manage_py(worker["command"])
    check_manage_py(worker["healthcheck"]["test"][1:])

    _host_port, container_port = api["ports"][0].split(":")
    assert container_port == api["environment"]["PORT"]
    for service in (api, worker):
        for variable in service["environment"]:
            assert read_by_the_project(variable), f"{variable} is not read by the project"
