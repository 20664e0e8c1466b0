"""Scheduler executor under load: anvil with 1-second blocks (started here on a free port) and
200 recurring Rebalancers (TestFleetRegistry, TestPosition).

1. Lag: the executor runs on the wall clock for LAG_S seconds while the fleet's runs come due
   (interval 20 s, staggered by creation); p50 / p95 / max of (execution block time - due
   time) over every run it executed. Target p95 <= 1 block (1 s).
2. Throughput: 200 more Rebalancers with a 1-second interval are added, so about 200 runs
   come due every second, more than one executor can take. One executor drains the stream with
   executeBatch for RATE_S seconds, then another account's executor with one execute(id) per
   transaction (the baseline) for RATE_S seconds, same chain, same run. Target >= 500 / min.
3. The executor's pre-send check on the runs still due after that (hundreds): the same calls
   checked CHECK_REPS times each way, median wall time: before, eth_call + eth_estimateGas per
   call in one JSON-RPC batch; after, the shared simulator's simulate_each (separate
   eth_simulateV1 requests in one batch, with and without the eth_estimateGas the executor
   asks beside each). Once as executeBatch calls (the batched executor), once as execute(id)
   calls (the unbatched one); the answers are checked to agree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from ballast_dev.local.anvil_local import ANVIL_KEYS, start_anvil, stop_anvil
from keepers.automation.chain import Call, ChainIO
from keepers.automation.executor import ExecutorBot
from keepers.automation.planning import percentile
from keepers.automation.settings import ExecutorConfig
from keepers.core.logging import configure_logging
from keepers.core.settings import KeeperSettings, load_settings
from keepers.tx.simulation import NodeSimulator, SimCall, estimate_each
from tests.support.keeper_settings import allow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "__local__.json"
KEYS = [ANVIL_KEYS[i] for i in (0, 2, 3)]  # anvil's default mnemonic, accounts 0, 2, 3
FLEET = 200
PER_TX = 10  # Rebalancers created per transaction (about 1.7M gas each)
INTERVAL = 20
EFFORT = 300_000
LAG_S = 60
RATE_S = 30
TICK_S = 0.1
CHECK_REPS = 15
BATCH_RUNS = 80  # runs per executeBatch (about the 25M-gas budget at 300k effort)


class Chain:
    def __init__(self) -> None:
        self.proc, self.url = start_anvil("--block-time", "1", "--gas-limit", "30000000")
        self.w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        self.types = json.loads(ARTIFACTS.read_text())["contractTypes"]
        self.me = Account.from_key(KEYS[0])
        self.nonce = 0

    def stop(self) -> None:
        stop_anvil(self.proc)

    def send(self, tx: dict[str, Any]) -> str:
        tx = dict(tx)
        tx.update(
            {
                "from": self.me.address,
                "nonce": self.nonce,
                "chainId": 31337,
                "gas": tx.get("gas", 29_000_000),
                "maxFeePerGas": 50 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        self.nonce += 1
        raw = self.me.sign_transaction(tx).raw_transaction
        return self.w3.eth.send_raw_transaction(raw).hex()

    def wait(self, tx_hash: str) -> Any:
        r = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.1)
        assert r["status"] == 1, f"setup transaction failed: {tx_hash}"
        return r

    def deploy(self, name: str, *args: Any) -> Any:
        ct = self.types[name]
        f = self.w3.eth.contract(abi=ct["abi"], bytecode=ct["deploymentBytecode"]["bytecode"])
        r = self.wait(self.send(f.constructor(*args).build_transaction({"gas": 15_000_000})))
        return self.w3.eth.contract(address=r["contractAddress"], abi=ct["abi"])

    def transact(self, fn: Any, gas: int | None = None) -> str:
        """Send a contract call; gas from eth_estimateGas unless given (x 1.3)."""
        if gas is None:
            gas = fn.estimate_gas({"from": self.me.address}) * 13 // 10
        return self.send(fn.build_transaction({"gas": gas, "from": self.me.address}))


def _settings(url: str, db: Path, key: str, scheduler: str) -> KeeperSettings:
    allowed = allow(scheduler, "executeBatch(uint256[])", "execute(uint256)")
    return KeeperSettings(
        db_url=f"sqlite:///{db}",
        rpc_url=url,
        signer_key=key,
        policy={"roles": {"executor": {"allowed": allowed}}},
        artifacts_path=ARTIFACTS,
        batch_size=256,
        poll_interval_s=0.02,
        max_fee_cap_wei=10**12,
    )


def _run(bot: ExecutorBot, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        bot.tick(int(time.time()))
        time.sleep(max(0.0, TICK_S - (time.monotonic() - t0)))


def _confirmed(bot: ExecutorBot) -> int:
    with bot.store.engine.connect() as conn:
        q = "select count(*) from tx_intents where status = 'confirmed'"
        return int(conn.exec_driver_sql(q).scalar() or 0)


def _gas_used(bot: ExecutorBot) -> int:
    """Gas of every transaction this executor got mined (receipts, in batches of 500)."""
    with bot.store.engine.connect() as conn:
        q = (
            "select a.tx_hash from tx_intents i join tx_attempts a on a.id = i.mined_attempt_id "
            "where i.status = 'confirmed'"
        )
        hashes = [r[0] for r in conn.exec_driver_sql(q).all()]
    total = 0
    for i in range(0, len(hashes), 500):
        calls = [("eth_getTransactionReceipt", [h]) for h in hashes[i : i + 500]]
        total += sum(int(r["gasUsed"], 16) for r in bot.node.batch(calls) if r)
    return total


def _executed_by(c: Chain, scheduler: Any, executor: str, from_block: int, to_block: int) -> int:
    topic = "0x" + keccak(text="RunExecuted(uint256,address,bool,uint256)").hex()
    who = "0x" + "00" * 12 + executor.lower()[2:]
    logs = c.w3.eth.get_logs(
        {
            "address": scheduler.address,
            "fromBlock": from_block,
            "toBlock": to_block,
            "topics": [topic, None, who],
        }
    )
    return len(logs)


class Throughput(NamedTuple):
    runs: int  # runs the executor executed in the window
    seconds: float  # the window's wall time
    txs: int  # the executor's confirmed transactions, all phases
    gas: int  # their gas
    all_runs: int  # runs the executor executed, all phases


def _throughput(c: Chain, sched: Any, bot: ExecutorBot, drain_blocks: int) -> Throughput:
    """Run `bot` on the wall clock for RATE_S seconds, then let it finish what it sent."""
    first = c.w3.eth.block_number + 1
    t0 = time.monotonic()
    _run(bot, RATE_S)
    seconds = time.monotonic() - t0
    last = c.w3.eth.block_number
    bot.drive(drain_blocks)
    return Throughput(
        runs=_executed_by(c, sched, bot.sender, first, last),
        seconds=seconds,
        txs=_confirmed(bot),
        gas=_gas_used(bot),
        all_runs=_executed_by(c, sched, bot.sender, 0, c.w3.eth.block_number),
    )


def _add_fleet(c: Chain, fleet: Any, sched: Any, position: Any, config: tuple, first_id: int):
    """FLEET booked Rebalancers on `position`, each authorised on it."""
    create = fleet.functions.createRebalancers(
        PER_TX, sched.address, position.address, config, c.me.address
    )
    gas = create.estimate_gas({"from": c.me.address}) * 13 // 10
    hashes = [c.transact(create, gas=gas) for _ in range(FLEET // PER_TX)]
    for h in hashes:
        c.wait(h)
    ids = range(first_id, first_id + FLEET)
    rebalancers = [fleet.functions.rebalancerOf(i).call() for i in ids]
    auth = [c.transact(position.functions.setRebalancer(r, True), gas=80_000) for r in rebalancers]
    c.wait(auth[-1])


def _median_s(fn: Any) -> float:
    times = []
    for _ in range(CHECK_REPS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _check_timing(bot: ExecutorBot, due: list[int]) -> list[str]:
    """Median seconds of the pre-send check of `due`, before (eth_call + eth_estimateGas) and
    after (simulate_each), as executeBatch chunks and as execute(id) calls."""
    w3, decoder = bot.node.w3, bot.pipeline.decoder
    node = NodeSimulator(w3, decoder)
    sched = bot.scheduler

    def sim(fn: str, args: tuple) -> SimCall:
        return SimCall(bot.sender, sched.address, ChainIO.encode(Call(sched, fn, args)))

    shapes = {
        "executeBatch": [
            sim("executeBatch", (due[i : i + BATCH_RUNS],)) for i in range(0, len(due), BATCH_RUNS)
        ],
        "execute(id)": [sim("execute", (i,)) for i in due[:100]],
    }
    lines = []
    for name, calls in shapes.items():
        old = estimate_each(w3, decoder, "pending", calls)
        new = node.simulate_each("pending", calls, estimate=True)
        assert [s.ok for s in old] == [s.ok for s in new]
        assert [s.return_data for s in old] == [s.return_data for s in new]
        before = _median_s(lambda calls=calls: estimate_each(w3, decoder, "pending", calls))
        after = _median_s(lambda calls=calls: node.simulate_each("pending", calls, estimate=True))
        only = _median_s(lambda calls=calls: node.simulate_each("pending", calls))
        lines.append(
            f"check of {len(calls)} {name} calls (median of {CHECK_REPS}): before eth_call+"
            f"eth_estimateGas {before * 1000:.1f} ms; after eth_simulateV1+eth_estimateGas "
            f"{after * 1000:.1f} ms ({after / before:.2f}x); eth_simulateV1 alone "
            f"{only * 1000:.1f} ms ({only / before:.2f}x)"
        )
    return lines


@pytest.mark.bench
def test_automation_keepers_bench__lag_and_throughput__batched_vs_unbatched(tmp_path):
    configure_logging(json=True, level="WARNING")
    c = Chain()
    try:
        me = c.me.address
        sched = c.deploy("RebalanceScheduler", me, 60, 10**9, 0)
        c.wait(c.transact(sched.functions.setSlotCapacity(1, 10**12)))
        funder = c.deploy("TxFunder", me, 10**22)  # a spend cap above the run: this measures speed
        c.wait(c.send({"to": funder.address, "value": 1_000 * 10**18, "gas": 100_000}))
        fleet = c.deploy("TestFleetRegistry")
        position = c.deploy("TestPosition", me)
        c.wait(c.transact(funder.functions.setManager(fleet.address, True)))
        config = (INTERVAL, 1, EFFORT, 12_000, False, funder.address)
        _add_fleet(c, fleet, sched, position, config, first_id=1)

        # --- 1. lag ------------------------------------------------------------------------
        s1 = _settings(c.url, tmp_path / "a.db", KEYS[1], sched.address)
        cfg = load_settings(ExecutorConfig, scheduler=sched.address, interval_s=TICK_S)
        bot = ExecutorBot.from_settings(s1, cfg)
        bot.start()
        _run(bot, LAG_S)
        bot.drive(10)
        bot.tick(int(time.time()))  # read its last RunExecuted logs
        lags = list(bot.lags)
        lag_runs = len(lags)
        overdue = [int(i) for i in sched.functions.nextDueRuns(1_000).call()]

        # --- 2. throughput: batched ----------------------------------------------------------
        fast = (1, 1, EFFORT, 12_000, False, funder.address)
        _add_fleet(c, fleet, sched, position, fast, first_id=FLEET + 1)
        batched = _throughput(c, sched, bot, drain_blocks=10)
        bot.stop()

        # --- 2'. throughput: one execute(id) per transaction (baseline) ---------------------
        s2 = _settings(c.url, tmp_path / "b.db", KEYS[2], sched.address)
        cfg2 = load_settings(
            ExecutorConfig, scheduler=sched.address, interval_s=TICK_S, unbatched=True
        )
        base = ExecutorBot.from_settings(s2, cfg2)
        base.start()
        unbatched = _throughput(c, sched, base, drain_blocks=15)
        # --- 3. the pre-send check, before / after (the runs still due) ---------------------
        still_due = [int(i) for i in sched.functions.nextDueRuns(1_000).call()]
        check = _check_timing(base, still_due)
        base.stop()

        p50, p95 = percentile(lags, 50), percentile(lags, 95)
        per_min_b = batched.runs * 60 / batched.seconds
        per_min_u = unbatched.runs * 60 / unbatched.seconds
        print()
        print(f"fleet: {FLEET} recurring Rebalancers, interval {INTERVAL}s, 1-second blocks")
        print(f"throughput phase: + {FLEET} Rebalancers with a 1s interval (demand ~200 runs/s)")
        print(
            f"lag over {LAG_S}s: runs executed {lag_runs}, p50 {p50:.0f}s, p95 {p95:.0f}s, "
            f"max {max(lags) if lags else 0}s (target p95 <= 1 block); still due after: "
            f"{len(overdue)}"
        )
        print(
            f"throughput batched:   {batched.runs} runs in {batched.seconds:.1f}s = "
            f"{per_min_b:.0f}/min ({batched.txs} txs incl. lag phase)"
        )
        print(
            f"throughput unbatched: {unbatched.runs} runs in {unbatched.seconds:.1f}s = "
            f"{per_min_u:.0f}/min ({unbatched.txs} txs)"
        )
        print(
            f"gas per run: batched {batched.gas // max(batched.all_runs, 1):,} "
            f"(all {batched.all_runs} runs of the executor), unbatched "
            f"{unbatched.gas // max(unbatched.all_runs, 1):,}"
        )
        ratio = per_min_b / per_min_u if per_min_u else float("inf")
        print(f"batched / unbatched = {ratio:.2f}x (target >= 500/min)")
        print(f"runs due for the check: {len(still_due)}")
        for line in check:
            print(line)
        assert lag_runs > 0 and batched.runs > 0 and unbatched.runs > 0 and still_due
    finally:
        c.stop()
