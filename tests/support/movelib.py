"""Helpers of the move tests: a fresh inventory holder per test, funded and approving the
keeper, so tests sharing the session's chains do not see each other's balances."""

import json
import subprocess
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from ballast_dev.local.crosschain_scene_local import ARTIFACTS, KEEPER, KEEPER_KEY, transact
from keepers.crosschain.routes import MESSAGE_SENT_TOPIC
from keepers.crosschain.usdt0 import OFT_RECEIVED_TOPIC

MAX = 2**256 - 1
E6, E18 = 10**6, 10**18


def usdc_supplies(scene) -> tuple[int, int]:
    """USDC's total supply on ethereum and on base (CCTP burns on one and mints on the other)."""
    eth, base = scene.sides["ethereum"], scene.sides["base"]
    return eth.usdc.functions.totalSupply().call(), base.usdc.functions.totalSupply().call()


def burnt_and_minted(scene, before: tuple[int, int]) -> tuple[int, int]:
    """(USDC burnt on ethereum, USDC minted on base) since `usdc_supplies` returned `before`."""
    eth_now, base_now = usdc_supplies(scene)
    return before[0] - eth_now, base_now - before[1]


def holder(scene, index: int, balances: dict[tuple[str, str], str]) -> str:
    """Anvil account `index` as the inventory holder on every chain: every token at its base
    (1000) unless `balances` says otherwise, and the keeper approved to pull."""
    for name, side in scene.sides.items():
        who = side.w3.eth.accounts[index]
        for asset, token in (("USDC", side.usdc), ("USDT", side.usdt)):
            if token is None:
                continue
            want = balances.get((name, asset), "1000")
            have = token.functions.balanceOf(who).call()
            assert have == 0, f"holder {index} already used on {name}"
            if want != "0":
                scene.fund(name, asset, who, want)
            transact(side.w3, token.functions.approve(KEEPER, MAX), who)
    return to_checksum_address(next(iter(scene.sides.values())).w3.eth.accounts[index])


def fresh_holder(scene, name: str, balances: dict[tuple[str, str], str]) -> str:
    """Like `holder`, for an address no other test has: derived from ``name``, impersonated on
    every chain (anvil_impersonateAccount) and given gas, funded (1000 of every token unless
    ``balances`` says otherwise) and approving the keeper."""
    who = to_checksum_address(keccak(text=name)[:20])
    for chain, side in scene.sides.items():
        side.w3.provider.make_request("anvil_setBalance", [who, hex(10**20)])
        side.w3.provider.make_request("anvil_impersonateAccount", [who])
        for asset, token in (("USDC", side.usdc), ("USDT", side.usdt)):
            if token is None:
                continue
            assert token.functions.balanceOf(who).call() == 0, f"{name} already used on {chain}"
            want = balances.get((chain, asset), "1000")
            if want != "0":
                scene.fund(chain, asset, who, want)
            transact(side.w3, token.functions.approve(KEEPER, MAX), who)
    return who


def holders_map(scene, who: str) -> dict[str, str]:
    return {name: who for name in scene.sides}


def holder_bot(scene, index: int, balances: dict[tuple[str, str], str], **bot_kw):
    """:func:`holder`'s account ``index`` and a fresh bot pulling from it on every chain
    (``bot_kw``: the bot's other settings, as ``scene.bot`` takes them): ``(who, bot)``."""
    who = holder(scene, index, balances)
    return who, scene.bot(holders=holders_map(scene, who), **bot_kw)


def ticks(bot, until, max_ticks: int = 60, sleep: float = 0.1):
    import time

    for _ in range(max_ticks):
        report = bot.tick()
        if until(report):
            return report
        time.sleep(sleep)
    raise AssertionError(f"condition not reached in {max_ticks} ticks: {report}")


def logs(w3, address, topic: bytes, from_block: int = 0):
    return w3.eth.get_logs(
        {
            "address": to_checksum_address(address),
            "topics": [HexBytes(topic)],
            "fromBlock": from_block,
            "toBlock": "latest",
        }
    )


MESSAGE_RECEIVED = keccak(text="MessageReceived(address,uint32,bytes32,bytes32,uint32,bytes)")


@dataclass(frozen=True)
class CctpMoveStart:
    """A holder with 1700 USDC on ethereum and 300 on base (the planner moves 700 over CCTP),
    and where both chains stood before the move."""

    who: str
    nonce_eth: int
    nonce_base: int
    block_eth: int
    block_base: int


def start_cctp_move(scene, index: int) -> CctpMoveStart:
    who = holder(scene, index, {("ethereum", "USDC"): "1700", ("base", "USDC"): "300"})
    eth, base = scene.sides["ethereum"], scene.sides["base"]
    return CctpMoveStart(
        who,
        scene.nonce("ethereum"),
        scene.nonce("base"),
        eth.w3.eth.block_number,
        base.w3.eth.block_number,
    )


def burns_since(scene, start: CctpMoveStart) -> int:
    """CCTP messages sent on ethereum since the move started (one per burn)."""
    eth = scene.sides["ethereum"]
    return len(logs(eth.w3, eth.transmitter.address, MESSAGE_SENT_TOPIC, start.block_eth + 1))


def rerun_finishes_once(scene, start: CctpMoveStart, cmd: list[str], env, cwd) -> None:
    """`cmd` (a `run --once` on the interrupted keeper's store) finishes the move: three
    transactions on ethereum (pull, approve, burn) and two on base (mint, invest), each sent
    once, one burn and one mint, the holder back to 1000 USDC on each chain."""
    again = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "done" in again.stdout
    assert scene.nonce("ethereum") - start.nonce_eth == 3
    assert scene.nonce("base") - start.nonce_base == 2
    assert burns_since(scene, start) == 1
    base = scene.sides["base"]
    minted = logs(base.w3, base.transmitter.address, MESSAGE_RECEIVED, start.block_base + 1)
    assert len(minted) == 1
    assert scene.balance("base", "USDC", start.who) == 1000 * 10**6
    assert scene.balance("ethereum", "USDC", start.who) == 1000 * 10**6


__all__ = [
    "E6",
    "E18",
    "OFT_RECEIVED_TOPIC",
    "MESSAGE_RECEIVED",
    "burnt_and_minted",
    "holder",
    "holders_map",
    "ticks",
    "logs",
    "usdc_supplies",
]


def keeper_env(
    scene,
    tmp_path,
    who: str,
    *,
    iris: dict | None = None,
    local_attester: bool = True,
    **extra: str,
) -> dict[str, str]:
    """The environment of a keeper process on the scene: the cross-chain config (with `iris` as
    its Iris section, where given) written to a file, ``who`` as the holder on every chain, the
    scene's store and key, and its local CCTP attester's key unless `local_attester=False`."""
    doc = scene.config.model_dump(mode="json")
    if iris is not None:
        doc["iris"] = iris
    cfg = tmp_path / "crosschain.json"
    cfg.write_text(json.dumps(doc))
    env = {
        "BALLAST_CROSSCHAIN_CONFIG": str(cfg),
        "BALLAST_CROSSCHAIN_HOLDERS": json.dumps(holders_map(scene, who)),
        "KEEPER_DB_URL": scene.db_url,
        "KEEPER_SIGNER_KEY": KEEPER_KEY,
        "KEEPER_ARTIFACTS_PATH": str(ARTIFACTS),
        "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps(
            {str(s.spec.chain_id): 1 for s in scene.sides.values()}
        ),
        "KEEPER_LOG_LEVEL": "WARNING",
    }
    if local_attester:
        env["BALLAST_CCTP_LOCAL_ATTESTER_KEY"] = scene.attestations.inner.attester.account.key.hex()
    env.update(extra)
    return env
