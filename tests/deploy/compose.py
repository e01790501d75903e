"""Reading deploy/docker-compose.yml the way Docker Compose does, for tests without a Docker engine.

What Compose does that matters here: YAML merge keys (PyYAML resolves them), variable
interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``$$`` for a literal ``$``)
with the shell's environment, relative paths resolved against the compose file's folder, and a
service's command appended to its image's entrypoint (``infermeter`` for the infermeter image).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from tests.support import REPO

DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
COMPOSE_DIR = DEPLOY / "compose"
K8S_DIR = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, env: Mapping[str, str] | None = None) -> str:
    """Compose's interpolation of one string (``$$`` becomes ``$``)."""
    env = env or {}

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op = m.group("op")
        if op == ":-":
            return env.get(name) or m.group("default")
        if op == "-":
            return env.get(name, m.group("default"))
        return env.get(name, "")

    return _VAR.sub(sub, value)


def _walk(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [_walk(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, env) for k, v in value.items()}
    return value


def load_compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file, merge keys resolved and variables interpolated (defaults when unset)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return _walk(data, env or {})


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def is_infermeter(service: Mapping[str, Any]) -> bool:
    """A service of the infermeter image (built from deploy/Dockerfile)."""
    build = service.get("build") or {}
    return isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile"


@dataclass(frozen=True)
class Mount:
    source: str  # a named volume, or a path resolved against deploy/
    target: str
    read_only: bool
    named: bool


def mounts(service: Mapping[str, Any]) -> list[Mount]:
    out = []
    for spec in service.get("volumes") or []:
        parts = spec.split(":")
        source, target = parts[0], parts[1]
        ro = len(parts) > 2 and "ro" in parts[2].split(",")
        named = not source.startswith((".", "/"))
        if not named:
            source = str((DEPLOY / source).resolve())
        out.append(Mount(source, target, ro, named))
    return out


def host_path(service: Mapping[str, Any], container_path: str) -> Path | None:
    """Where a container path of a bind mount lives in the checkout (None for named volumes)."""
    best: Mount | None = None
    for m in mounts(service):
        if (container_path == m.target or container_path.startswith(m.target.rstrip("/") + "/")) and (
            best is None or len(m.target) > len(best.target)
        ):
            best = m
    if best is None or best.named:
        return None
    return Path(best.source) / container_path[len(best.target):].lstrip("/")


def shell_script(service: Mapping[str, Any]) -> str | None:
    """The script of a service whose entrypoint is ``sh -c``/``sh -ec``."""
    entrypoint = service.get("entrypoint") or []
    if isinstance(entrypoint, str):
        entrypoint = shlex.split(entrypoint)
    if entrypoint and Path(entrypoint[0]).name in ("sh", "bash") and entrypoint[-1].startswith("-") and "c" in entrypoint[-1]:
        command = service.get("command")
        return command[0] if isinstance(command, list) else command
    return None


def infermeter_commands(service: Mapping[str, Any]) -> list[list[str]]:
    """Every ``infermeter ...`` argv a service runs (its command, or each line of its script)."""
    script = shell_script(service)
    if script is not None:
        joined = script.replace("\\\n", " ")
        return [shlex.split(line)[1:] for line in joined.splitlines() if line.strip().startswith("infermeter ")]
    command = service.get("command")
    if command is None:
        return []
    return [list(command) if isinstance(command, list) else shlex.split(command)]


def subcommand_path(argv: list[str]) -> list[str]:
    """The sub-command words of an argv (``db migrate -c x`` -> ``[db, migrate]``)."""
    path = []
    for token in argv:
        if token.startswith("-"):
            break
        path.append(token)
    return path


def options(argv: list[str]) -> list[str]:
    return [t.split("=", 1)[0] for t in argv if t.startswith("-")]


def option_value(argv: list[str], *names: str) -> str | None:
    for i, token in enumerate(argv):
        if token in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None
