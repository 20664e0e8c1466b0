"""Constants and factories shared by the fund-bot tests (a uniquely named module: `conftest`
is not): the keeper's settings for the deployed local fund (`fund_keeper_env`, and
`local_fund_env` as the CLI tests run it) and a fund bot made from them (`fund_bot`)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the keeper's modules are imported when a bot is made (2 s: not for every
    from keepers.fund.bot import FundBot  # suite process, which loads this module's fixtures)

UNIT = 10**6
ROOT = Path(__file__).resolve().parents[2]
NO_APPROVAL = {
    "APPROVAL_REVIEW_AMOUNT": "50000000",
    "REBALANCE_APPROVAL_THRESHOLD": "50000000",
    "APPROVAL_MULTISIG_AMOUNT": "50000000",
}


def fund_keeper_env(chain: Any, deployment_file: Path, db_url: str) -> dict[str, str]:
    """The fund keeper's settings for a fund deployed on ape's chain: its node, its store
    (``db_url``), the deployment record, the build's artefacts, 3 admins (alice, bob, carol);
    every other setting at its default."""
    return {
        "KEEPER_RPC_URL": chain.provider.uri,
        "KEEPER_DB_URL": db_url,
        "KEEPER_DEPLOYMENT": str(deployment_file),
        "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
        "KEEPER_CHAIN_ID": str(chain.chain_id),
        "KEEPER_LOG_LEVEL": "WARNING",
        "REBALANCE_ADMINS": "alice,bob,carol",
    }


def local_fund_env(chain: Any, deployment_file: Path, db_url: str) -> dict[str, str]:
    """The environment `keeper` CLI commands read for the deployed local fund (3 admins): the
    keeper's settings with the native coin priced 0 (no gas check)."""
    return fund_keeper_env(chain, deployment_file, db_url) | {"KEEPER_NATIVE_PRICE": "0"}


def fund_bot(env: dict[str, str], keeper: Any, alerts: list[Any] | None = None) -> "FundBot":
    """A fund bot made from ``env`` on a store of its own (``bot.store``: the caller closes it),
    signing with ``keeper``'s key (the KEEPER_ROLE account, accounts[2] on the local fund); its
    alerts appended to ``alerts`` when given, else dropped."""
    from keepers.fund.bot import FundBot
    from keepers.fund.settings import load_fund_config
    from keepers.runtime.alerts import Alerter
    from keepers.store.db import Store
    from keepers.tx.signers import RawKeySigner

    cfg = load_fund_config(env)
    sinks = [] if alerts is None else [alerts.append]
    return FundBot(cfg, Store(cfg.keeper.db_url), signer=RawKeySigner(keeper.private_key),
                   alerter=Alerter(sinks))  # fmt: skip


def plan_waiting(bot: Any, fund: Any, depositor: Any, chain: Any) -> tuple[str, int]:
    """A 400,000 deposit by ``depositor``, then ``bot``'s liquidity check at the chain's next
    timestamp: a plan over the 2-of-3 threshold (the default 200K), waiting for the owners.
    Its id and that timestamp."""
    fund.vault.deposit(400_000 * UNIT, depositor, sender=depositor)
    now = int(chain.pending_timestamp)
    out = bot.check("liquidity", now)
    assert out.status == "pending_approval", out
    return out.plan_id, now


def plan_from_terminal(env: dict[str, str], fund: Any, depositor: Any) -> str:
    """A 400,000 deposit by ``depositor``, then `keeper --json plan` as an operator runs it
    with ``env``: a plan over the 2-of-3 threshold (the default 200K), waiting for the owners.
    Its id."""
    import json

    from click.testing import CliRunner

    from keepers.cli import main

    fund.vault.deposit(400_000 * UNIT, depositor, sender=depositor)
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "plan"], env=env)
    assert r.exit_code == 0, r.output + r.stderr
    planned = json.loads(r.stdout)
    assert planned["status"] == "pending_approval", planned
    return str(planned["plan"])


class KillBeforeSecondAction:
    """A fund bot's `before_action` hook: lets the first action through, then kills the keeper
    (KeyboardInterrupt, as SIGINT would) before the second. `sent` holds the index that ran."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def __call__(self, i: int) -> None:
        if self.sent:
            raise KeyboardInterrupt("keeper killed")
        self.sent.append(i)


def restarted(bot: Any) -> Any:
    """A new fund bot on the same store, signer and alerter: the keeper process restarted."""
    return type(bot)(bot.config, bot.store, signer=bot.signer, alerter=bot.alert)


# The local fund's Uniswap-traded assets (scripts/profiles/local.yaml).
DEX = ["TBILL-A", "TBILL-B"]


def push_pool(fund: Any, market: Any, sym: str, pct: int) -> None:
    """A trade by ``market`` (the trader, its UniswapV3 helper) that leaves ``sym``'s pool
    ``pct`` % above its oracle; nothing arbitrages it back."""
    from ballast_dev.deployment.uniswap import arbitrage_to_price

    answer = int(fund.feeds[sym].latestAnswer())
    fee = int(fund.adapters["uniswap"].poolFee(fund.assets[sym]))
    price = (answer * (100 + pct) // 100 * UNIT // 10**8, 10**18)
    arbitrage_to_price(market[1], fund.assets[sym], fund.cash, fee, price, market[0])


# gas money an impersonated admin holds (ape prices its transaction at the block gas limit,
# ``gas_limit: max`` on the local network, times the node's suggested fee: 30M gas at the
# keepers' 500 gwei cap is 15 ETH)
ADMIN_GAS_MONEY = 1_000 * 10**18


def timelock_sender(fund: Any, accounts: Any) -> Any:
    """The fund's timelock as a sender (impersonated by ape on anvil: on the local fund the
    admin of the controller and the vault), holding ``ADMIN_GAS_MONEY``. It was given 1 ETH in
    each test, and a 3-worker run (2026-11-29) failed 14 tests on one worker whose node then
    suggested a 100 gwei tip: 30M gas at 100 gwei is 3 ETH ("Insufficient funds for gas * price
    + value"); the worker's earlier modules are what raised the suggestion."""
    tl = accounts[fund.timelock.address]
    if tl.balance < ADMIN_GAS_MONEY:
        tl.balance = ADMIN_GAS_MONEY
    return tl


def other_keeper_invests(fund: Any, accounts: Any) -> None:
    """Another process on the controller's KEEPER_ROLE invests the cash: a second keeper replica
    or an operator on its own key (accounts[6], granted the role by the timelock, the role's
    admin on the local fund) sends ``rebalance(true)``, which deploys the cash to every tier, pool
    legs included (inside the controller's internal bound). The scheduled due run is no such
    mover: it trades no pool leg (each is cut, left to the keeper), so on the local profile it
    invests only a small part of a large cash pile. The feeds report first (a heartbeat), so the
    run finds its prices fresh."""
    c, other = fund.controller, accounts[6]
    role = c.KEEPER_ROLE()
    if not c.hasRole(role, other.address):
        c.grantRole(role, other.address, sender=timelock_sender(fund, accounts))
    for feed in fund.feeds.values():
        feed.updateAnswer(int(feed.latestAnswer()), sender=accounts[0])
    c.rebalance(True, sender=other)


ZERO32 = b"\x00" * 32


def via_timelock(fund: Any, data: Any, proposer: Any, salt: int) -> None:
    """``data`` (calldata to the vault) scheduled and executed through the fund's timelock
    (delay 0 on the local profile) by ``proposer``, under ``salt``."""
    s = salt.to_bytes(32, "big")
    fund.timelock.schedule(fund.vault, 0, data, ZERO32, s, 0, sender=proposer)
    fund.timelock.execute(fund.vault, 0, data, ZERO32, s, sender=proposer)


def keeper_cli(env: dict[str, str], *args: str) -> Any:
    """``keeper ARGS`` in this process with ``env`` (stderr mixed in, exceptions raised)."""
    from click.testing import CliRunner

    from keepers.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
