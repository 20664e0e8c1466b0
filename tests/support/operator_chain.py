"""The operator's chain as the operator tests drive it from outside (over web3 and the keeper's
own processes): tests/offchain/operator/test_operator_walk.py (issues 13 and 48: Sepolia's
chain id on a mining anvil, the long form a custom network).

- the test mnemonic's keys and the roles the tests give them;
- what exists on the operator's chain before the deploy (a stablecoin, its feed and five
  ERC-4626 funds) and the deploy profile that names it by address, with the admin a new Safe
  of alice, bob and carol (2 of 3) and the PlanExecutor in front of the controller;
- reading a running keeper from outside: a /metrics sample, the alerts of its JSON log, a wait
  on a condition that fails at once if the keeper exits, and the transactions an account sent;
- stopping the keeper processes a test started (tests/offchain/operator/conftest.py's
  ``procs``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from eth_account import Account
from web3 import Web3

from tests.support.pipeline_anvil import contract_type

MNEMONIC = "test test test test test test test test test test test junk"
PASSPHRASE = "operator passphrase 7"  # the deployer's and the keeper's keyfiles
OWNERS = ("alice", "bob", "carol")  # the admin Safe's owners, 2 of 3 (test accounts 10-12)
APPROVAL_THRESHOLD = 5000  # the executor's: whole base tokens (the deposit plan is ~90,000)
UNIT = 10**6  # the base stablecoin has 6 decimals
BOUND_S = 30.0  # KEEPER_STOP_TIMEOUT_S's default: SIGTERM to exit
FUND_SYMBOLS = ("MMF-A", "MMF-B", "HY-A", "HY-B", "HY-C")
# SENDER relays the owners' signed Safe transactions (any account with gas: the owners send
# nothing, so their nonces stay 0)
FUNDER, SENDER, KEEPER, GUARDIAN, DEPOSITOR, DEPLOYER = 0, 1, 2, 3, 4, 7


def key(index: int) -> bytes:
    """The test mnemonic's key at m/44'/60'/0'/0/<index> (anvil funds 0..9)."""
    Account.enable_unaudited_hdwallet_features()
    return bytes(Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key)


def send_all(w3: Web3, signer: bytes, calls: list[Any]) -> list[Any]:
    """Sign ``calls`` (web3 contract functions or constructors, independent of each other)
    with ``signer`` at consecutive nonces, send them together and wait for every receipt: one
    block for all of them where they fit (on a chain that mines on a clock)."""
    acct = Account.from_key(signer)
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    hashes = []
    for i, call in enumerate(calls):
        tx = call.build_transaction({"from": acct.address, "nonce": nonce + i})
        hashes.append(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
    receipts = [
        w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.1) for h in hashes
    ]
    for r in receipts:
        assert r["status"] == 1, r
    return receipts


def deploy_all(w3: Web3, name: str, args: list[tuple[Any, ...]]) -> list[str]:
    """One instance of this build's contract ``name`` per constructor argument tuple, sent
    together by the funder; their addresses in ``args``' order."""
    ct = contract_type(name)
    factory = w3.eth.contract(abi=ct["abi"], bytecode=ct["deploymentBytecode"]["bytecode"])
    receipts = send_all(w3, key(FUNDER), [factory.constructor(*a) for a in args])
    return [str(r["contractAddress"]) for r in receipts]


def existing_chain(w3: Web3) -> tuple[str, str, dict[str, str]]:
    """What exists on the operator's chain before the deploy: the stablecoin (6 decimals), one
    price feed, and the five funds the fund will hold (:data:`FUND_SYMBOLS`); (cash, feed,
    {symbol: fund})."""
    (cash,) = deploy_all(w3, "TestStablecoin", [("Tether USD (test)", "USDT", 6)])
    (feed,) = deploy_all(w3, "TestPriceFeed", [(8, 10**8)])
    funds = deploy_all(w3, "TestMoneyMarketFund", [(cash, s, s) for s in FUND_SYMBOLS])
    return cash, feed, dict(zip(FUND_SYMBOLS, funds, strict=True))


def operator_profile(
    network: str,
    cash: str,
    feed: str,
    funds: dict[str, str],
    owners: list[str],
    keeper: str,
    guardian: str,
) -> dict[str, Any]:
    """The deploy profile for :func:`existing_chain`'s assets, named by address."""
    return {
        "network": network,
        "base": {"address": cash},
        "tiers": [[1000, 500, 2000], [3000, 2000, 4000], [6000, 5000, 7000]],
        "risk": {
            "max_top3_bps": 7000,  # L3's 60% is spread over three funds of 20%
            "min_move_value": 1000,
            "loss_budget": 50_000,
            "notional_budget": 10_000_000,
        },
        "roles": {
            # a new Safe 1.4.1 of the owners, 2 of 3, created by the deploy
            "admin": {"safe": {"owners": owners, "threshold": 2}},
            "keeper": keeper,
            "guardian": guardian,
        },
        "timelock_delay": 3600,
        "assets": [
            {
                "symbol": s,
                "kind": "erc4626",
                "tier": 1 if s.startswith("MMF") else 2,
                "token": a,
                "feed": feed,
            }
            for s, a in funds.items()
        ],  # fmt: skip
        "automation": {"funder_deposit_wei": 10**17, "low_runway_intervals": 7},
        # the keeper key moves the fund only through the executor: a plan above the threshold
        # runs only with 2 owners' EIP-712 signatures, checked on chain
        "plan_executor": {"approval_threshold": APPROVAL_THRESHOLD, "required_approvals": 2},
    }


def metric(port: int, name: str, *labels: str) -> float | None:
    """The value of the first sample of ``name`` whose labels include each of ``labels``
    (``'code="network"'``) on the keeper's /metrics, or None (none, or nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith(name) and line[len(name)] in " {" and all(x in line for x in labels):
            return float(line.rsplit(" ", 1)[1])
    return None


def alert_lines(text: str, code: str) -> list[dict[str, Any]]:
    """The alerts with ``code`` in a keeper's JSON log (KEEPER_LOG_JSON=1): how an alert
    reaches the outside besides ``rebalance_alerts_total`` (keepers/runtime/alerts.py)."""
    out = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("event") == "alert" and doc.get("code") == code:
            out.append(doc)
    return out


def wait_until(
    what: str,
    check: Callable[[], Any],
    seconds: float,
    proc: Any = None,
    explain: Callable[[], str] = lambda: "",
) -> Any:
    """``check()``'s first truthy value, polled every 0.1 s for ``seconds``; an
    AssertionError naming ``what`` (and ``explain()``: what the keeper said) on time-out, or at
    once if ``proc`` (the keeper) exits meanwhile."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the keeper exited ({proc.returncode}) waiting for {what}: {explain()}"
            )
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(
        f"timed out after {seconds}s waiting for {what} (last: {last!r})\n{explain()}"
    )


def chain_transactions(w3: Web3, sender: str, since: int) -> list[Any]:
    """Every transaction ``sender`` sent in blocks after ``since``, from the chain itself."""
    out = []
    for n in range(since + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == sender:
                out.append(tx)
    return out


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each of ``procs`` still running, then wait (a kill after 60 s); their pipes,
    if any, are drained."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate(timeout=30)
