"""The shipped systemd unit (deploy/systemd/ballast-keeper.service) read the way systemd reads
it, so a test can start the keeper exactly as the unit does: its ``ExecStart`` argv, its
``WorkingDirectory``, and the environment systemd gives the service (the manager's default
PATH, then ``Environment=``, then ``EnvironmentFile=``, whose settings override
``Environment=``'s: systemd.exec(5)).

The unit's paths are the host's (``/opt/ballast``, ``/etc/ballast``); :func:`service_env` and
:func:`exec_start` take a mapping from those prefixes to where the test installed them."""

from __future__ import annotations

import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "ballast-keeper.service"
# what systemd 252 gives a system service when the unit sets no PATH
# (`systemd-path search-binaries-default`)
SYSTEMD_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def service_section(unit: Path = UNIT) -> list[tuple[str, str]]:
    """The [Service] section's settings, in order (a key may repeat)."""
    out: list[tuple[str, str]] = []
    section = None
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Service" and "=" in line:
            k, v = line.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def setting(name: str, unit: Path = UNIT) -> list[str]:
    return [v for k, v in service_section(unit) if k == name]


def remap(path: str, mapping: dict[str, Path]) -> str:
    for prefix, target in mapping.items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return str(target) + path[len(prefix.rstrip("/")) :]
    return path


def read_environment_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile format: KEY=VALUE lines, ``#``/``;`` comments, values
    optionally in single or double quotes."""
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        env[k.strip()] = v
    return env


def write_environment_file(path: Path, env: dict[str, str]) -> None:
    """What an operator writes into /etc/ballast/keeper.env (mode 600)."""
    path.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()))
    path.chmod(0o600)


def remap_value(value: str, mapping: dict[str, Path]) -> str:
    """``value`` with each host path prefix in it (``sqlite:////var/lib/ballast/k.db``)
    replaced by where the test put it."""
    for prefix, target in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        value = value.replace(prefix, str(target))
    return value


def service_env(
    mapping: dict[str, Path], path: str = SYSTEMD_DEFAULT_PATH, unit: Path = UNIT
) -> dict[str, str]:
    """The service's environment: PATH (systemd's default unless the unit sets one), the
    unit's ``Environment=`` assignments (their host paths remapped), then its
    ``EnvironmentFile=``s."""
    env = {"PATH": path}
    for value in setting("Environment", unit):
        for assignment in shlex.split(value):
            k, v = assignment.split("=", 1)
            env[k] = remap_value(v, mapping)
    for value in setting("EnvironmentFile", unit):
        optional = value.startswith("-")
        f = Path(remap(value.lstrip("-"), mapping))
        if f.exists() or not optional:
            env.update(read_environment_file(f))
    return env


def exec_start(mapping: dict[str, Path], unit: Path = UNIT) -> list[str]:
    (cmd,) = setting("ExecStart", unit)
    return [remap(a, mapping) for a in shlex.split(cmd.lstrip("-@:+!"))]


def working_directory(mapping: dict[str, Path], unit: Path = UNIT) -> str:
    (wd,) = setting("WorkingDirectory", unit)
    return remap(wd, mapping)
