"""Rewrite imports and path references from the pre-issue-12 layout to the slices.

Issue 12 moved the keepers into slices (commit 74c1247). Code written against the old paths
(a branch merged later) is brought over with: ``python scripts/toolchain/rewrite_moved_imports.py``
from the repository root. It edits tracked .py/.md/.toml/.sh/.yaml files in place, rewriting
``keepers.chain.pipeline`` -> ``keepers.tx.pipeline``, ``from keepers.planning import univ3`` ->
``from keepers.core import univ3``, ``keepers/bots/fund.py`` -> ``keepers/fund/bot.py``, ...
(the FILES map below is the whole move).
"""

import re
import subprocess
from pathlib import Path

FILES = {
    # core
    "keepers/config.py": "keepers/core/settings.py",
    "keepers/logging.py": "keepers/core/logging.py",
    "keepers/planning/univ3.py": "keepers/core/univ3.py",
    # tx
    **{
        f"keepers/chain/{n}.py": f"keepers/tx/{n}.py"
        for n in [
            "pipeline",
            "node",
            "fees",
            "signers",
            "policy",
            "txcodec",
            "validate",
            "revert",
            "retry",
            "errors",
            "worker",
            "simulation",
            "contracts",
            "metrics",
        ]
    },
    "keepers/chain/__init__.py": "keepers/tx/__init__.py",
    # runtime
    "keepers/bots/base.py": "keepers/runtime/base.py",
    "keepers/bots/runner.py": "keepers/runtime/runner.py",
    "keepers/bots/scheduler.py": "keepers/runtime/scheduler.py",
    "keepers/bots/alerts.py": "keepers/runtime/alerts.py",
    "keepers/bots/policy.py": "keepers/runtime/policy.py",
    "keepers/bots/__init__.py": "keepers/runtime/__init__.py",
    "keepers/metrics.py": "keepers/runtime/metrics.py",
    # fund
    **{
        f"keepers/planning/{n}.py": f"keepers/fund/planning/{n}.py"
        for n in [
            "__init__",
            "actions",
            "approval",
            "metrics",
            "plan",
            "report",
            "risk",
            "rollback",
            "simulate",
            "state",
            "triggers",
            "depth",
            "config",
        ]
    },
    "keepers/chain/fund_reader.py": "keepers/fund/reader.py",
    "keepers/chain/fund_actions.py": "keepers/fund/actions.py",
    "keepers/chain/depth.py": "keepers/fund/depth_reader.py",
    "keepers/bots/fund.py": "keepers/fund/bot.py",
    "keepers/bots/fund_records.py": "keepers/fund/records.py",
    "keepers/bots/fund_config.py": "keepers/fund/settings.py",
    "keepers/bots/FUND_KEEPER.md": "keepers/fund/FUND_KEEPER.md",
    # automation
    "keepers/planning/automation.py": "keepers/automation/planning.py",
    "keepers/bots/automation_chain.py": "keepers/automation/chain.py",
    "keepers/bots/executor.py": "keepers/automation/executor.py",
    "keepers/bots/supervisor.py": "keepers/automation/supervisor.py",
    "keepers/bots/automation_config.py": "keepers/automation/settings.py",
    # crosschain
    "keepers/planning/crosschain.py": "keepers/crosschain/planning.py",
    # portfolio
    "keepers/planning/portfolio.py": "keepers/portfolio/planning.py",
    # dev tree
    "keepers/planning/portfolio_cases.py": "ballast_dev/bench/portfolio_cases.py",
    "keepers/crosschain/cex_sim.py": "ballast_dev/local/cex_sim_local.py",
    "keepers/crosschain/lz_local.py": "ballast_dev/local/lz_local.py",
    "keepers/crosschain/local_scene.py": "ballast_dev/local/crosschain_scene_local.py",
    **{
        f"keepers/deployment/{n}.py": f"ballast_dev/deployment/{n}.py"
        for n in ["__init__", "tables", "portfolio", "fund", "automation", "uniswap", "profile"]
    },
    **{f"keepers/demo/{n}.py": f"ballast_dev/demo/{n}.py" for n in ["__init__", "charts", "run"]},
}
_NEW_PACKAGES = [
    "keepers/core/__init__.py",
    "keepers/fund/__init__.py",
    "keepers/automation/__init__.py",
    "keepers/portfolio/__init__.py",
    "ballast_dev/__init__.py",
    "ballast_dev/bench/__init__.py",
    "ballast_dev/local/__init__.py",
]


def mod(p):
    p = p[:-3] if p.endswith(".py") else p
    p = p[:-9] if p.endswith("/__init__") else p
    return p.replace("/", ".")


MODS = {mod(o): mod(n) for o, n in FILES.items() if o.endswith(".py")}
# whole-package renames for `from keepers.chain import x` style
PKGS = {
    "keepers.planning": "keepers.fund.planning",
    "keepers.chain": "keepers.tx",
    "keepers.bots": "keepers.runtime",
    "keepers.deployment": "ballast_dev.deployment",
    "keepers.demo": "ballast_dev.demo",
}

# `from keepers.pkg import name` where name is a moved submodule
FROM_PKG = re.compile(
    r"from (keepers\.(?:planning|chain|bots|deployment|demo|crosschain)|keepers) import ([^\n(]+|\([^)]*\))"
)
DOTTED = re.compile(r"\bkeepers(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
PATHS = re.compile(r"(?<![/\w.-])keepers(?:/[A-Za-z_][A-Za-z0-9_]*)+(?:\.py|\.md|/)?")


def rewrite_dotted(m):
    s = m.group(0)
    parts = s.split(".")
    for i in range(len(parts), 1, -1):
        head = ".".join(parts[:i])
        if head in MODS:
            return ".".join([MODS[head]] + parts[i:])
    return s


PATHMAP = {o: n for o, n in FILES.items()}
PATHMAP_DIRS = {
    "keepers/planning/": "keepers/fund/planning/",
    "keepers/chain/": "keepers/tx/",
    "keepers/bots/": "keepers/runtime/",
    "keepers/deployment/": "ballast_dev/deployment/",
    "keepers/demo/": "ballast_dev/demo/",
}


def rewrite_path(m):
    s = m.group(0)
    if s in PATHMAP:
        return PATHMAP[s]
    if s + ".py" in PATHMAP:
        return PATHMAP[s + ".py"][:-3]
    for o, n in PATHMAP_DIRS.items():
        if s == o or s + "/" == o:
            return n if s.endswith("/") else n[:-1]
    return s


def rewrite_from_pkg(m):
    pkg, names = m.group(1), m.group(2)
    inner = names.strip("()")
    items = [x.strip() for x in inner.replace("\n", " ").split(",") if x.strip()]
    sub = []
    for it in items:
        name = it.split(" as ")[0].strip()
        full = f"{pkg}.{name}"
        if full in MODS:
            new = MODS[full]
            npkg, nname = new.rsplit(".", 1)
            alias = it.split(" as ")[1].strip() if " as " in it else None
            sub.append(
                (
                    npkg,
                    nname + (f" as {alias}" if alias else "")
                    if nname == name or alias
                    else f"{nname} as {name}",
                )
            )
        else:
            return m.group(0)  # a name from the package itself: leave to DOTTED
    # all are submodules
    lines = [f"from {p} import {n}" for p, n in sub]
    return "\n".join(lines)


def rewrite_text(t, indent_aware=True):
    # handle `from pkg import submodule` with indentation
    def fp(m):
        start = m.start()
        line_start = t.rfind("\n", 0, start) + 1
        indent = t[line_start:start]
        r = rewrite_from_pkg(m)
        return r.replace("\n", "\n" + indent) if indent.strip() == "" else r

    t = FROM_PKG.sub(fp, t)
    t = DOTTED.sub(rewrite_dotted, t)
    t = PATHS.sub(rewrite_path, t)
    return t


SELF = "scripts/toolchain/rewrite_moved_imports.py"  # its map names the old paths


def main():
    files = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    for f in files:
        if not (
            f.endswith((".py", ".md", ".toml", ".sh", ".yaml", ".yml", ".ini", ".mako", ".cfg"))
            or f in ("Makefile", ".ci/run")
        ):
            continue
        if f.startswith(("contracts/", "node_modules")) or f == SELF:
            continue
        p = Path(f)
        if not p.is_file():
            continue
        t = p.read_text()
        n = rewrite_text(t)
        if n != t:
            p.write_text(n)
            print("rewrote", f)


if __name__ == "__main__":
    main()
