"""Helpers of the move tests: a fresh inventory holder per test, funded and approving the
keeper, so tests sharing the session's chains do not see each other's balances."""

import json

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from ballast_dev.local.crosschain_scene_local import ARTIFACTS, KEEPER, KEEPER_KEY, transact
from keepers.crosschain.usdt0 import OFT_RECEIVED_TOPIC

MAX = 2**256 - 1


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


def holders_map(scene, who: str) -> dict[str, str]:
    return {name: who for name in scene.sides}


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
__all__ = ["OFT_RECEIVED_TOPIC", "MESSAGE_RECEIVED", "holder", "holders_map", "ticks", "logs"]


def keeper_env(scene, tmp_path, who: str, **extra: str) -> dict[str, str]:
    """The environment of a keeper process on the scene: the cross-chain config written to a
    file, ``who`` as the holder on every chain, the scene's store, key and attester."""
    cfg = tmp_path / "crosschain.json"
    cfg.write_text(json.dumps(scene.config.model_dump(mode="json")))
    env = {
        "BALLAST_CROSSCHAIN_CONFIG": str(cfg),
        "BALLAST_CROSSCHAIN_HOLDERS": json.dumps(holders_map(scene, who)),
        "BALLAST_CCTP_LOCAL_ATTESTER_KEY": scene.attestations.inner.attester.account.key.hex(),
        "KEEPER_DB_URL": scene.db_url,
        "KEEPER_SIGNER_KEY": KEEPER_KEY,
        "KEEPER_ARTIFACTS_PATH": str(ARTIFACTS),
        "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps(
            {str(s.spec.chain_id): 1 for s in scene.sides.values()}
        ),
        "KEEPER_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env
