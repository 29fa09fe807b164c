"""The deployment files read for the tests: .env.example, the variables docker-compose.yml
uses, published ports, the health check's target and the Dockerfile's instructions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
_VARIABLE = re.compile(r"\$\{(\w+)(:[-?])?([^}]*)\}")


def env_example(path: Path = ROOT / ".env.example") -> dict[str, str]:
    """NAME -> value of every setting of .env.example (or of an .env made from it)."""
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    return settings


def used_variables() -> dict[str, tuple[str, str]]:
    """NAME -> (`:-` or `:?` or ``, its default or message) of every `${...}` in the values of
    docker-compose.yml (comments are not interpolated, so not counted)."""
    found: dict[str, tuple[str, str]] = {}
    for text in _strings(yaml.safe_load((ROOT / "docker-compose.yml").read_text())):
        assert re.search(r"\$(?![{$])", text) is None, f"use ${{NAME}}, not $NAME: {text}"
        for name, kind, rest in _VARIABLE.findall(text):
            assert found.get(name, (kind, rest)) == (kind, rest), f"{name} used differently"
            found[name] = (kind, rest)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def host_ports(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """Container port -> (host address, host port) of a resolved service: `docker-compose
    config` writes `HOST:PUBLISHED:TARGET/tcp` for a bound address, a mapping otherwise."""
    ports: dict[int, tuple[str, int]] = {}
    for port in service.get("ports", []):
        if isinstance(port, str):
            *host, published, target = port.removesuffix("/tcp").split(":")
            ports[int(target)] = (host[0] if host else "", int(published))
        else:
            ports[int(port["target"])] = (port.get("host_ip", ""), int(port["published"]))
    return ports


def healthcheck_target(command: list[str]) -> tuple[str, int]:
    """Address and port the python one-liner of a health check asks."""
    assert command[:2] == ["python", "-c"], command
    assert len(command) == 3, command
    (host, port), *_ = re.findall(r"HTTPConnection\('([^']+)', (\d+)", command[2])
    return host, int(port)


def gateway_healthcheck(service: dict[str, Any]) -> tuple[str, int]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return healthcheck_target(test[1:])


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction of the Dockerfile, continuation lines
    joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [
        (word.upper(), rest.strip())
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for word, _, rest in [line.strip().partition(" ")]
    ]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD, HEALTHCHECK CMD, VOLUME..."""
    command = json.loads(arguments)
    assert isinstance(command, list), arguments
    assert all(isinstance(a, str) for a in command), arguments
    return command
