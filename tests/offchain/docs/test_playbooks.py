"""The emergency playbooks (docs/playbooks/): their Safe batch files are those the generator
(ballast_dev/playbooks.py) makes today from the current build's ABIs, every batch the generator
knows has a committed example, every shell block is marked (run by a walk, or not run and why),
and every page says how you know, what to do, what holds meanwhile and how to return to
normal. No chain: the walk on the local fund is test_playbook_walk.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from ballast_dev import playbooks as pb
from ballast_dev.deployment import txbuilder as tb
from tests.support.docs_examples import PLAYBOOKS, examples

ROOT = Path(__file__).resolve().parents[3]
PAGES = sorted(p for p in PLAYBOOKS.glob("*.md") if p.name != "index.md")


def test_committed_batches__made_again_from_the_build__identical() -> None:
    assert pb.examples(check=True) == [], "run `python -m ballast_dev.playbooks examples`"


def test_committed_batches__one_edited__the_check_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the check above can fail: a copy of the folder with one call's calldata edited
    copy = tmp_path / "batches"
    shutil.copytree(pb.EXAMPLES, copy)
    monkeypatch.setattr(pb, "EXAMPLES", copy)
    monkeypatch.setattr(pb, "EXAMPLE_RECORD", copy / "example-record.json")
    f = copy / "delist.json"
    batch = json.loads(f.read_text())
    batch["transactions"][0]["data"] = batch["transactions"][0]["data"][:-2] + "ff"
    f.write_text(json.dumps(batch, indent=2) + "\n")
    (copy / "left-over.json").write_text("{}\n")
    assert pb.examples(check=True) == ["delist.json", "left-over.json"]


def test_generator__function_gone_from_the_abi__refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # what "cannot go stale against the ABIs" means: a batch naming a function the build no
    # longer has is not made
    real = pb._abi("IAssetController")
    gone = [e for e in real if e.get("name") != "removeAsset"]
    monkeypatch.setattr(pb, "_abi", lambda name: gone if name == "IAssetController" else real)
    record = json.loads(pb.EXAMPLE_RECORD.read_text())
    with pytest.raises(Exception, match="removeAsset"):
        pb.make(["delist", "--asset", "MMF-B"], record, 0)


def test_every_batch_kind_has_a_committed_example_linked_from_the_index() -> None:
    made = {args[0] for args in pb.EXAMPLE_ARGS}
    assert made == set(pb.BATCHES)
    index = (PLAYBOOKS / "index.md").read_text()
    files = sorted(p.name for p in pb.EXAMPLES.glob("*.json"))
    for name in files:
        assert f"(batches/{name})" in index, f"{name} not linked from docs/playbooks/index.md"


def test_batches__calls_decode_to_what_the_description_says() -> None:
    # freeze-venue: two calls, one MultiSendCallOnly DELEGATECALL, all or none
    batch = json.loads((pb.EXAMPLES / "freeze-venue.json").read_text())
    assert batch["meta"]["checksum"] == tb.checksum(batch)
    calls = tb.calls_of(batch)
    from web3 import Web3

    c = Web3().eth.contract(abi=pb._abi("IAssetController"))
    decoded = [c.decode_function_input(x.data) for x in calls]
    record = json.loads(pb.EXAMPLE_RECORD.read_text())
    lower = [(f.fn_name, {k: str(v).lower() for k, v in a.items()}) for f, a in decoded]
    assert lower == [
        ("setAssetLimits", {"token": record["assets"]["MMF-B"].lower(), "cap": "0",
                            "maxConcentrationBps": "0"}),
        ("setDefaultAsset", {"t": "1", "token": record["assets"]["MMF-A"].lower()}),
    ]  # fmt: skip
    assert tb.safe_transaction(calls).operation == tb.DELEGATECALL
    # a timelock pair: the same operation scheduled, then executed
    t = Web3().eth.contract(abi=pb._abi("FundTimelock"))
    sched = tb.calls_of(json.loads((pb.EXAMPLES / "write-off.schedule.json").read_text()))
    execute = tb.calls_of(json.loads((pb.EXAMPLES / "write-off.execute.json").read_text()))
    fs, s_args = t.decode_function_input(sched[0].data)
    fe, e_args = t.decode_function_input(execute[0].data)
    assert (fs.fn_name, fe.fn_name) == ("scheduleBatch", "executeBatch")
    assert s_args["payloads"] == e_args["payloads"] and s_args["salt"] == e_args["salt"]
    assert s_args["delay"] == 172800 and len(s_args["payloads"]) == 3


def test_generator__bad_input__names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "r.json"
    rec.write_text(pb.EXAMPLE_RECORD.read_text())
    assert pb.main(["delist", "--record", str(rec), "--asset", "NOPE", "--out", str(tmp_path)]) == 2
    assert "--asset 'NOPE': not in the record" in capsys.readouterr().err
    assert pb.main(["raise-limits", "--record", str(rec), "--asset", "MMF-A", "--cap", "1",
                    "--max-concentration-bps", "1", "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "--delay" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # nothing written


def test_every_shell_block_of_the_playbooks_is_marked() -> None:
    shell = [e for e in examples(PLAYBOOKS) if e.lang in ("bash", "sh", "console", "shell")]
    unmarked = [f"{e.page}:{e.line}" for e in shell if e.mark is None]
    assert not unmarked, f"shell blocks without an example mark: {unmarked}"
    walked = [e for e in shell if e.mark and e.mark.startswith("playbook ")]
    assert len(walked) >= 4


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_playbook_says_how_you_know_what_to_do_meanwhile_and_back(page: Path) -> None:
    heads = re.findall(r"^## (.+)$", page.read_text(), re.M)
    for need in ("How you know", "Meanwhile", "Back to normal"):
        assert need in heads, f"{page.name}: no '## {need}'"
    assert any(h.startswith(("Do", "What a holder can do")) for h in heads), page.name


def test_every_playbook_is_in_the_nav_and_linked_from_the_runbook() -> None:
    # the nav alone (the file's superfences entry carries a python tag safe_load refuses)
    nav = yaml.safe_load("nav:" + (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[1])["nav"]
    flat = json.dumps(nav)
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    assert "(playbooks/index.md)" in runbook
    for page in [PLAYBOOKS / "index.md", *PAGES]:
        assert f"playbooks/{page.name}" in flat, f"{page.name} not in mkdocs.yml's nav"


# ------------------------------------------------ the pages' cast commands against the ABIs

# each variable a page's cast commands call, and the build's contracts behind it
CAST_TARGETS = {
    "CONTROLLER": ("IAssetController", "AssetController"),
    "VAULT": ("TieredVault",),
    "TIMELOCK": ("FundTimelock",),
    "SAFE": ("Safe",),
    "TOKEN": ("IERC20Min",),
    "FEED": ("IChainlinkFeed",),
    "REBALANCER": ("Rebalancer",),
    "SCHEDULER": ("RebalanceScheduler",),
    "EXECUTOR": ("PlanExecutor",),
}
# Functions the pages name that other work is adding beside them (not in the build yet): the
# in-kind exit and the valuation step bound's confirmation. When one lands, this test fails
# until it is taken off the list (and the page's "not on main yet" is updated).
PENDING: set[tuple[str, str]] = set()
CAST = re.compile(r'cast\s+(send|call)\s+"\$(\w+)"\s+"([^"]+)"')


def _canonical(p: dict) -> str:
    t = str(p["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in p["components"]) + ")" + t[len("tuple") :]
    return t


def _split(sig: str) -> tuple[str, str, str | None]:
    """``name(inputs)(outputs)`` as cast reads it: the name, the inputs, the outputs or None."""
    name, rest = sig.split("(", 1)
    depth, i = 1, 0
    while depth:
        depth += {"(": 1, ")": -1}.get(rest[i], 0)
        i += 1
    inputs, outputs = rest[: i - 1], rest[i:]
    return name, inputs, (outputs[1:-1] if outputs else None)


def _functions(contracts: tuple[str, ...]) -> dict[str, str]:
    """``name(inputs)`` -> the outputs, for every function of ``contracts``."""
    out: dict[str, str] = {}
    for c in contracts:
        for e in pb._abi(c):
            if e.get("type") == "function":
                ins = ",".join(_canonical(p) for p in e["inputs"])
                out[f"{e['name']}({ins})"] = ",".join(_canonical(p) for p in e["outputs"])
    return out


def test_every_cast_command_of_the_playbooks_names_a_function_of_the_build() -> None:
    seen: set[tuple[str, str]] = set()
    wrong: list[str] = []
    for page in sorted(PLAYBOOKS.glob("*.md")):
        for verb, var, sig in CAST.findall(page.read_text()):
            assert var in CAST_TARGETS, f"{page.name}: cast {verb} ${var}: add it to CAST_TARGETS"
            name, inputs, outputs = _split(sig)
            key = f"{name}({inputs})"
            seen.add((var, key))
            if (var, key) in PENDING:
                continue
            fns = _functions(CAST_TARGETS[var])
            if key not in fns:
                wrong.append(f"{page.name}: cast {verb} ${var} {key}: no such function")
            elif verb == "call" and outputs is None and fns[key]:
                # a holder reading it would get raw hex (issue 67: previewRedeemInKind was)
                wrong.append(f"{page.name}: cast call {key} without its return types ({fns[key]})")
            elif outputs is not None and outputs != fns[key]:
                wrong.append(f"{page.name}: {key} returns ({fns[key]}), the page reads ({outputs})")
    assert not wrong, "\n".join(wrong)
    assert len(seen) >= 20  # it reads the pages
    assert seen >= PENDING, f"pending functions no page names any more: {PENDING - seen}"
    landed = [f"${var} {key}" for var, key in PENDING if key in _functions(CAST_TARGETS[var])]
    assert not landed, f"now in the build, take off PENDING and update the pages: {landed}"
