"""A USDC move over CCTP whose Cross step waits on the Iris client, on the three local chains:
a local HTTP server answers GET /v2/messages/{domain}?transactionHash= as Circle documents it,
with the local attester's attestation of the real burn read from the source chain. The
server says 404, then 429 (Retry-After 30), then pending, then complete; the engine waits
each out on the clock it is given, and the move ends minted and invested once."""

import time

from irislib import NOT_FOUND, FakeIris, Reply, complete, pending
from movelib import MESSAGE_RECEIVED, holder, holders_map, logs
from web3.exceptions import TransactionNotFound

from keepers.crosschain.iris import IrisAttestations, IrisClient
from keepers.crosschain.iris_config import IrisConfig
from keepers.crosschain.routes import MESSAGE_SENT_TOPIC

E6 = 10**6


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def chain_resolver(scene, script: list[Reply | str]):
    """Iris over the local chains: per burn tx, the next scripted reply; "pending" and
    "complete" are built from the tx's MessageSent logs (attested by the local attester)."""
    attester = scene.attestations.inner.attester
    served: dict[str, int] = {}

    def resolve(domain: int, tx: str) -> Reply:
        side = next(
            (s for s in scene.sides.values() if s.spec.cctp_domain == domain),
            None,
        )
        if side is None:
            return NOT_FOUND
        try:
            receipt = side.w3.eth.get_transaction_receipt(tx)
        except TransactionNotFound:
            return NOT_FOUND
        burns = [
            (bytes(side.w3.codec.decode(["bytes"], bytes(lg["data"]))[0]), int(lg["logIndex"]))
            for lg in receipt["logs"]
            if lg["address"].lower() == side.transmitter.address.lower()
            and bytes(lg["topics"][0]) == MESSAGE_SENT_TOPIC
        ]
        if not burns:
            return NOT_FOUND
        i = served.get(tx, 0)
        served[tx] = i + 1
        step = script[min(i, len(script) - 1)]
        if step == "pending":
            return pending(burns[0][0])
        if step == "complete":
            tx_hash = bytes.fromhex(tx.removeprefix("0x"))
            return complete(*[(m, attester.attest(m, tx_hash, li)) for m, li in burns])
        assert isinstance(step, Reply)
        return step

    return resolve


def test_move__usdc_over_cctp_on_the_iris_client__404_429_pending_complete_then_minted_once(
    xscene,
):
    who = holder(xscene, 19, {("ethereum", "USDC"): "1700", ("base", "USDC"): "500"})
    script = [NOT_FOUND, Reply(429, {"error": "rate limited"}, {"Retry-After": "30"}), "pending"]
    script.append("complete")
    clock = Clock()
    local = xscene.attestations
    with FakeIris(chain_resolver(xscene, script)) as server:
        cfg = IrisConfig(environment="custom", base_url=server.url, min_poll_interval_s=5)
        source = IrisAttestations(IrisClient(cfg, clock=clock))
        xscene.attestations = source  # the scene's bots build their CCTP adapters from this
        try:
            bot = xscene.bot(holders=holders_map(xscene, who), poll_interval_s=10.0)
            base = xscene.sides["base"]
            block0 = base.w3.eth.block_number
            t0 = int(time.time()) + 86_400  # the engine keeps to the clock it is given

            (move,) = bot.tick(now=t0).created  # burnt; Iris: 404 (not indexed yet)
            row = bot.engine._row(move.id)
            assert row.state == "cross" and row.route == "CCTP"
            assert len(server.requests) == 1
            path, query, _ = server.requests[0]
            assert path == "/v2/messages/0" and query["transactionHash"] == [row.handle_tx]

            clock.t = 10
            bot.tick(now=t0 + 10)  # Iris: 429 with Retry-After 30 -> wait 30 s, no attempt
            row = bot.engine._row(move.id)
            assert row.state == "cross" and row.attempts == 0
            assert "429" in row.error
            assert row.next_try_at.replace(tzinfo=None) == _naive_utc(t0 + 40)

            clock.t = 20
            bot.tick(now=t0 + 20)  # not due on the engine's clock: nothing asked
            assert len(server.requests) == 2

            clock.t = 40
            bot.tick(now=t0 + 40)  # Iris: pending confirmations
            assert bot.engine.move(move.id).state == "cross"
            assert len(server.requests) == 3

            clock.t = 50
            done = bot.tick(now=t0 + 50)  # Iris: complete -> receiveMessage -> invest
            view = bot.engine.move(move.id)
            assert view.state == "done", view.error
            assert len(server.requests) == 4  # Transfer_In and the amount read used the cache
            assert done.planned == []
        finally:
            xscene.attestations = local
    assert view.amount_received == 500 * E6
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("ethereum", "USDC", who) == 1200 * E6
    assert len(logs(base.w3, base.transmitter.address, MESSAGE_RECEIVED, block0)) == 1
    bot.stop()


def _naive_utc(ts: int):
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)
