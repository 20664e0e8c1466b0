"""What an operator or an integrator sees of a release, as one JSON manifest: every setting
(its environment names and default), every `keeper` command and option, every function, event
and error of the ABIs the keepers carry (keepers/abis), and every store migration.

    python -m scripts.toolchain.release_surface --write      # refresh the committed manifest
    python -m scripts.toolchain.release_surface --release X  # at a release: keep it as X's

tests/offchain/release/test_changelog.py compares the live surface with the committed manifest
(tests/offchain/release/surface.json) and the manifest with the last release's
(surface-<version>.json beside it): every name added, removed or changed since the release must
appear in CHANGELOG.md's Unreleased section. The module reads the keepers package only through
names every release has (keepers.core.settings, keepers.cli.main, the abis and migrations
folders), so that it also reads an older release's checkout (run from that checkout's root).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "tests" / "offchain" / "release"
MANIFEST = MANIFESTS / "surface.json"


def _default(info: Any) -> Any:
    from pydantic_core import PydanticUndefined

    if info.default_factory is not None:
        try:
            value = info.default_factory()
        except TypeError:  # a factory that takes the validated data
            return "(computed)"
    else:
        value = info.default
    if value is PydanticUndefined:
        return "(required)"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def settings() -> dict[str, Any]:
    """Each setting's preferred environment name -> its other names and its default."""
    from keepers.core import settings as s

    out: dict[str, Any] = {}
    for section in s.SECTIONS:
        cls = s.section_class(section)
        # secret_fields; _secret_fields in a release before the settings split (this script
        # also reads older releases' checkouts: tests/offchain/release)
        secrets = getattr(s, "secret_fields", None) or getattr(s, "_secret_fields")  # noqa: B009
        secrets = secrets(cls)
        for field, info in cls.model_fields.items():
            names = s.env_names(cls, field)
            out[names[0]] = {
                "aliases": names[1:],
                "default": "(secret)" if field in secrets else _default(info),
            }
    return dict(sorted(out.items()))


def _walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from _walk(cmd.commands[name], [*path, name])


def commands() -> dict[str, list[str]]:
    """Each command ("keeper crosschain status") -> its options and arguments."""
    from keepers.cli import main

    out = {}
    for path, cmd in _walk(main, ["keeper"]):
        params = []
        for p in cmd.params:
            if isinstance(p, click.Option):
                params.append("/".join(sorted([*p.opts, *p.secondary_opts])))
            else:
                params.append(str(p.human_readable_name))
        out[" ".join(path)] = sorted(set(params))
    return out


def _type(p: dict[str, Any]) -> str:
    if p["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in p.get("components", [])) + ")" + p["type"][5:]
    return str(p["type"])


def abis() -> dict[str, list[str]]:
    """Each exported ABI -> its functions (with outputs and mutability), events and errors."""
    out = {}
    for f in sorted((ROOT / "keepers" / "abis").glob("*.json")):
        if f.name.startswith("_"):
            continue
        items = []
        for item in json.loads(f.read_text()):
            kind = item.get("type")
            if kind not in ("function", "event", "error"):
                continue
            sig = f"{item['name']}({','.join(_type(p) for p in item.get('inputs', []))})"
            if kind == "function":
                outs = ",".join(_type(p) for p in item.get("outputs", []))
                sig += f" {item.get('stateMutability', '')} returns ({outs})"
            items.append(f"{kind} {sig}")
        out[f.stem] = sorted(items)
    return out


def migrations() -> list[str]:
    folder = ROOT / "keepers" / "store" / "migrations" / "versions"
    return sorted(p.stem for p in folder.glob("[0-9]*.py"))


def surface() -> dict[str, Any]:
    return {
        "settings": settings(),
        "commands": commands(),
        "abis": abis(),
        "migrations": migrations(),
    }


# ---------------------------------------------------------------------- comparing


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """What differs between two manifests, as (what changed, the name CHANGELOG.md must
    mention). A new command's options and a new contract's members are covered by the
    command's or the contract's name; ``*.<member>`` in the changelog names a member of every
    contract at once."""
    out: list[tuple[str, str]] = []
    os_, ns = old.get("settings", {}), new.get("settings", {})
    for name, verb in _names(os_, ns):
        if verb:
            out.append((f"setting {name} {verb}", name))
        elif os_[name] != ns[name]:
            out.append((f"setting {name} changed ({os_[name]} -> {ns[name]})", name))
    for name, opt, verb in _nested(old.get("commands", {}), new.get("commands", {})):
        if opt is None:
            out.append((f"command `{name}` {verb}", name))
        else:
            out.append((f"option `{name} {opt}` {verb}", f"{name} {opt.split('/')[0]}"))
    for contract, item, verb in _nested(old.get("abis", {}), new.get("abis", {})):
        if item is None:
            out.append((f"ABI {contract} {verb}", contract))
        else:
            member = item.split(" ", 1)[1].split("(", 1)[0]
            out.append((f"ABI {contract}: {item} {verb}", f"{contract}.{member}"))
    for rev, verb in _members(old.get("migrations", []), new.get("migrations", [])):
        out.append((f"store migration {rev} {verb}", f"migration {rev.split('_', 1)[0]}"))
    return out


def _names(old: dict[str, Any], new: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """Every name of either section, sorted, with "added", "removed" or None (in both)."""
    for name in sorted(set(old) | set(new)):
        yield name, "added" if name not in old else "removed" if name not in new else None


def _nested(
    old: dict[str, list[str]], new: dict[str, list[str]]
) -> Iterator[tuple[str, str | None, str]]:
    """(name, None, verb) for each entry added or removed, (name, member, verb) for each member
    added to or removed from an entry in both."""
    for name, verb in _names(old, new):
        if verb:
            yield name, None, verb
        else:
            for item, change in _members(old[name], new[name]):
                yield name, item, change


def _members(old: Iterable[str], new: Iterable[str]) -> Iterator[tuple[str, str]]:
    """The members in one list only, sorted, with "added" or "removed"."""
    new_set = set(new)
    for item in sorted(set(old) ^ new_set):
        yield item, "added" if item in new_set else "removed"


def mentioned(token: str, text: str) -> bool:
    """Whether CHANGELOG text names ``token`` (``*.member`` covers ``Contract.member``)."""
    if token in text:
        return True
    if "." in token and not token.startswith("keeper"):
        member = token.split(".", 1)[1]
        return f"*.{member}" in text
    return False


def unreleased(changelog: str) -> str:
    """The text of CHANGELOG.md's ``## [Unreleased]`` section."""
    start = changelog.find("## [Unreleased]")
    if start < 0:
        return ""
    rest = changelog[start + len("## [Unreleased]") :]
    end = rest.find("\n## [")
    return rest if end < 0 else rest[:end]


def last_release(folder: Path = MANIFESTS) -> tuple[str, dict[str, Any]] | None:
    """The newest surface-<version>.json kept in ``folder``."""

    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.stem.removeprefix("surface-").split("."))

    kept = sorted(folder.glob("surface-*.json"), key=key)
    if not kept:
        return None
    return kept[-1].stem.removeprefix("surface-"), json.loads(kept[-1].read_text())


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite {MANIFEST.relative_to(ROOT)}")
    ap.add_argument("--release", metavar="VERSION", help="keep the surface as VERSION's")
    ap.add_argument("--out", type=Path, help="write the surface to this file instead")
    args = ap.parse_args(argv)
    text = dump(surface())
    if args.out:
        args.out.write_text(text)
    elif args.release:
        (MANIFESTS / f"surface-{args.release}.json").write_text(text)
        MANIFEST.write_text(text)
    elif args.write:
        MANIFEST.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
