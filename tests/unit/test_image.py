"""The Dockerfile, read (no Docker engine runs here): a builder stage makes the wheels, the
slim runtime stage gets only the installed environment, runs as an unprivileged user, keeps
its data on a volume, and its command and health check agree with docker-compose.yml and the
image's settings file."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.config import load_tagmaps
from tests.composefile import ROOT, dockerfile, exec_form, healthcheck_target

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GATEWAY = COMPOSE["services"]["gateway"]
MAPS = "/etc/plc-gateway/mappings"


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage, the ARGs before the first FROM as stage 0."""
    found: list[list[tuple[str, str]]] = [[]]
    for word, args in dockerfile():
        if word == "FROM":
            found.append([])
        found[-1].append((word, args))
    return found


def args_of(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [args for w, args in stage if w == word]


def test_a_builder_makes_the_wheels_and_the_runtime_gets_only_the_environment():
    preamble, builder, runtime = stages()
    assert args_of(preamble, "ARG") == ["PYTHON_IMAGE=python:3.11-slim"]
    assert args_of(builder, "FROM") == ["${PYTHON_IMAGE} AS builder"]
    assert args_of(runtime, "FROM") == ["${PYTHON_IMAGE}"]
    (build,) = args_of(builder, "RUN")
    assert "pip wheel --wheel-dir /wheels ." in build
    assert "pip install --no-index --find-links /wheels plc-gateway" in build
    # nothing is built or installed in the runtime stage; only the environment comes over
    for command in args_of(runtime, "RUN"):
        assert "install " not in command.replace("uninstall ", ""), command
        assert "apt-get" not in command, command
        assert "gcc" not in command, command
    copied = [args for args in args_of(runtime, "COPY") if args.startswith("--from=")]
    assert copied == ["--from=builder /opt/plc-gateway /opt/plc-gateway"]
    (env,) = args_of(runtime, "ENV")
    assert "PATH=/opt/plc-gateway/bin:$PATH" in env.split()  # `gateway` and `python` are its


def test_everything_copied_is_in_the_build_context():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for stage in stages():
        for args in args_of(stage, "COPY"):
            if not args.startswith("--from="):
                *sources, _target = args.split()
                for source in sources:
                    assert (ROOT / source).exists(), source
                    parts = Path(source).parts
                    hidden = {"/".join(parts[: i + 1]) for i in range(len(parts))} & ignored
                    assert not hidden, f"{source} is excluded by .dockerignore"


def test_it_runs_as_an_unprivileged_user_with_its_data_and_tag_maps_on_volumes():
    *_, runtime = stages()
    (user,) = args_of(runtime, "USER")
    assert user not in ("root", "0")
    (setup,) = [args for args in args_of(runtime, "RUN") if "useradd" in args]
    assert "--uid 10001 --user-group" in setup
    assert setup.rstrip().endswith(f"chown {user}:{user} /var/lib/plc-gateway")
    (workdir,) = args_of(runtime, "WORKDIR")
    (volume,) = args_of(runtime, "VOLUME")
    # the buffer (data/buffer) and the file sink's data (data/) are relative to the working
    # directory, which is the volume compose puts gateway-buffer on; the tag maps the command
    # runs are the other volume
    maps = exec_form(args_of(runtime, "CMD")[0])[-1]
    assert exec_form(volume) == [workdir, maps] == ["/var/lib/plc-gateway", MAPS]
    assert f"gateway-buffer:{workdir}" in GATEWAY["volumes"]


def test_the_bundled_tag_maps_are_the_initial_content_of_their_volume():
    *_, runtime = stages()
    words = [word for word, _ in runtime]
    # Docker fills a new volume with what the image has at its path, and drops what a build
    # step writes there after the VOLUME instruction: the maps are copied before it
    (copy_at,) = [
        i for i, (w, a) in enumerate(runtime) if w == "COPY" and a.split()[-1] == MAPS + "/"
    ]
    assert runtime[copy_at][1].split()[:-1] == ["mappings/"]
    assert copy_at < words.index("VOLUME")
    assert not [w for w in words[words.index("VOLUME") :] if w in ("COPY", "ADD", "RUN")]
    # compose mounts the tag maps of GATEWAY_MAPPINGS over the volume, read-only
    (mount,) = [v for v in GATEWAY["volumes"] if v.rsplit(":", 2)[1] == MAPS]
    assert mount == "${GATEWAY_MAPPINGS:-./mappings}:" + MAPS + ":ro"


def test_command_and_health_check_agree_with_compose_and_the_settings_file():
    *_, runtime = stages()
    (cmd,) = args_of(runtime, "CMD")
    assert exec_form(cmd) == ["gateway", "run", *GATEWAY["command"][-2:]]
    copies = {args.split()[-1]: args.split()[-2] for args in args_of(runtime, "COPY")}
    assert copies["/etc/plc-gateway/container.yaml"] == "deploy/gateway/container.yaml"
    assert copies["/etc/plc-gateway/mappings/"] == "mappings/"

    (check,) = args_of(runtime, "HEALTHCHECK")
    options, command = check.split(" CMD ", 1)
    assert "--start-period=" in options
    assert "--timeout=" in options
    assert exec_form(command) == GATEWAY["healthcheck"]["test"][1:]
    health = load_tagmaps([ROOT / "deploy/gateway/container.yaml"], env={}).health
    assert health is not None
    assert healthcheck_target(exec_form(command)) == ("127.0.0.1", health.port)
    assert "/readyz" in command
