"""docker-compose.yml, read as data: the services, no secret in it, a scalable worker, and commands
that the CLIs they call really accept (checked against the parsers, not a copy of their flags).

There is no Docker engine in the test environment, so nothing is built or started here; the values
are interpolated the way Compose does, with the placeholders of .env.example.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
from contextlib import redirect_stderr
from pathlib import Path

import pytest
import yaml

from hpo.storage import resolve_storage_url

from services import optuna_dashboard_command, require_or_skip

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; `$$` is a literal `$`.
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])|\})")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of `text`, nested defaults included."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        match = _VARIABLE.match(text, i)
        if not match:
            out.append(text[i])
            i += 1
            continue
        name, operator = match.groups()
        if operator is None:  # ${NAME}
            out.append(env.get(name, ""))
            i = match.end()
            continue
        depth, j = 1, match.end()  # find the brace that closes this ${, past nested ones
        while depth:
            if text.startswith("${", j):
                depth, j = depth + 1, j + 2
            else:
                depth, j = depth - (text[j] == "}"), j + 1
        argument, i = text[match.end() : j - 1], j
        is_set = env.get(name, "") != "" if operator.startswith(":") else name in env
        if operator.endswith("-"):
            out.append(env[name] if is_set else interpolate(argument, env))
        elif is_set:
            out.append(env[name])
        else:
            raise ValueError(f"required variable {name} is unset: {argument}")
    return "".join(out)


def env_example() -> dict[str, str]:
    """The settings of .env.example (uncommented KEY=value lines)."""
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def documented_variables() -> set[str]:
    """Every variable .env.example sets or shows, commented out, as an option."""
    return set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def services(env: dict[str, str] | None = None) -> dict[str, dict]:
    """The services of the compose file, interpolated with `env` (default: .env.example)."""
    text = interpolate(COMPOSE_FILE.read_text(), env_example() if env is None else env)
    return yaml.safe_load(text)["services"]


def raw_services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def commands() -> list[tuple[str, list[str]]]:
    return [
        (name, [str(arg) for arg in service["command"]])
        for name, service in services().items()
        if "command" in service
    ]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_the_stack_has_its_services_and_the_screen_runs_only_on_request():
    found = raw_services()
    assert {"postgres", "dashboard", "worker", "screen"} <= set(found)
    assert found["screen"].get("profiles") == ["setup"]
    assert all("profiles" not in found[name] for name in ("postgres", "dashboard", "worker"))


def test_postgres_keeps_its_data_on_a_named_volume_and_its_password_in_the_env_file():
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    postgres = compose["services"]["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"
    sources = [volume.split(":")[0] for volume in postgres["volumes"]]
    assert any(source in compose.get("volumes", {}) for source in sources), sources
    assert ".env" in _as_list(postgres["env_file"])
    assert "environment" not in postgres  # POSTGRES_PASSWORD comes from .env only
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for name in ("dashboard", "worker", "screen"):
        assert compose["services"][name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_no_password_is_written_in_the_compose_file():
    text = COMPOSE_FILE.read_text()
    placeholder = env_example()["POSTGRES_PASSWORD"]
    assert placeholder not in text
    # Every `user:password@host` has its password as a ${...} reference.
    for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
        assert password.startswith("${") and password.endswith("}"), password
    # And the interpolated URL really carries the password of .env.
    assert f":{placeholder}@postgres:5432/" in " ".join(services()["worker"]["command"])


def test_env_file_stays_out_of_git_and_out_of_the_images():
    git = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True)
    # CI runs in a clone, so there (HPO_REQUIRE_SERVICES=1) a missing git checkout fails the test.
    require_or_skip(git.returncode in (0, 1), f"not a git checkout: {git.stderr.decode().strip()}")
    assert git.returncode == 0, "add `.env` to .gitignore: it holds the real PostgreSQL password"
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in dockerignore


def test_the_dashboard_is_published_on_localhost_only():
    found = services()
    assert found["dashboard"]["ports"] == ["127.0.0.1:8080:8080"]
    for name, service in found.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    command = found["dashboard"]["command"]
    # Inside its container it must listen on all interfaces, or the published port reaches nothing.
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_the_worker_can_be_scaled():
    worker = raw_services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["build"]["target"] in _dockerfile_stages()


def test_the_images_come_from_the_dockerfile_stages_on_python_311_slim():
    stages = _dockerfile_stages()
    assert set(stages) >= {"worker", "dashboard"}
    assert all(base == "python:3.11-slim" for base in stages.values()), stages
    for name, service in raw_services().items():
        if "build" in service:
            assert service["build"]["target"] in stages, name


def _dockerfile_stages() -> dict[str, str]:
    return {
        stage: base
        for base, stage in re.findall(
            r"^FROM\s+(\S+)\s+AS\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE
        )
    }


def test_every_variable_used_is_documented_in_env_example():
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    used |= set(re.findall(r"\$\$\{([A-Za-z_][A-Za-z0-9_]*)\}", COMPOSE_FILE.read_text()))
    assert used, "the compose file should read its settings from .env"
    assert used <= documented_variables(), (
        f"not in .env.example: {sorted(used - documented_variables())}"
    )


def test_one_storage_url_for_every_container_pointing_at_the_postgres_service():
    urls = {
        name: command[command.index("--storage") + 1] if "--storage" in command else command[1]
        for name, command in commands()
    }
    env = env_example()
    expected = (
        f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{env['POSTGRES_DB']}"
    )
    assert urls == {"dashboard": expected, "worker": expected, "screen": expected}
    assert resolve_storage_url(expected) == expected
    outside = "postgresql+psycopg://hpo:secret@db.example.org:5432/hpo"
    assert {
        name: command.count(outside)
        for name, command in (
            (name, s["command"])
            for name, s in services({**env, "HPO_STORAGE": outside}).items()
            if "command" in s
        )
    } == {"dashboard": 1, "worker": 1, "screen": 1}


@pytest.mark.parametrize("service", ["worker", "screen"])
def test_hpo_commands_use_only_flags_their_cli_accepts(service):
    command = dict(commands())[service]
    assert command[:2] == ["python", "-m"] and command[2].startswith("hpo."), command
    module = command[2]
    cli = importlib.import_module(f"{module}.__main__")  # a command naming no CLI fails here
    errors, rejected = io.StringIO(), False
    with redirect_stderr(errors):
        try:
            cli.build_parser().parse_args(command[3:])
        except SystemExit:  # argparse's way of saying no
            rejected = True
    if rejected:
        pytest.fail(f"`{' '.join(command)}` is rejected by {module}: {errors.getvalue().strip()}")


def test_the_dashboard_command_uses_only_flags_optuna_dashboard_accepts():
    command = dict(commands())["dashboard"]
    assert command[0] == "optuna-dashboard"
    help_text = subprocess.run(
        [*optuna_dashboard_command(), "--help"], capture_output=True, text=True, check=True
    ).stdout
    accepted = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_text))
    assert {"--host", "--port"} <= accepted, help_text
    flags = [arg for arg in command[1:] if arg.startswith("--")]
    assert set(flags) <= accepted, f"optuna-dashboard does not know {sorted(set(flags) - accepted)}"
    positionals = [
        arg
        for index, arg in enumerate(command[1:], 1)
        if not arg.startswith("--") and not command[index - 1].startswith("--")
    ]
    assert len(positionals) == 1 and positionals[0].startswith("postgresql"), positionals
