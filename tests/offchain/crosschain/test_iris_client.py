"""Circle Iris client against a local HTTP server that speaks the documented V2 shapes:
pending then complete, 404 then complete, 429 (with and without Retry-After), malformed
JSON, server errors, timeouts, the client-side rate cap, and what a complete attestation is."""

import pytest
from eth_account import Account
from eth_utils import keccak
from irislib import NOT_FOUND, FakeIris, Reply, complete, pending
from pydantic import ValidationError

from keepers.crosschain.cctp import (
    BurnBody,
    CctpMessage,
    LocalCctpAttester,
    address_to_bytes32,
)
from keepers.crosschain.iris import (
    ATTESTER_FILLED,
    IrisAttestations,
    IrisClient,
    IrisStatus,
    parse_messages,
    same_burn,
)
from keepers.crosschain.iris_config import IRIS_MAINNET, IRIS_SANDBOX, IrisConfig
from keepers.crosschain.routes import RouteDeferred, RouteDelayed, RouteHandle, RouteRejected

ATTESTER = LocalCctpAttester(keccak(b"iris test attester"))
TX = keccak(b"burn tx")
KEEPER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


def burn(amount: int = 800 * 10**6, source: int = 0, dest: int = 6) -> bytes:
    """A MessageSent payload as depositForBurn emits it (nonce and executed fields empty)."""
    body = BurnBody(
        1,
        address_to_bytes32(USDC),
        address_to_bytes32(KEEPER),
        amount,
        address_to_bytes32(KEEPER),
        0,
        0,
        0,
        b"",
    ).encode()
    return CctpMessage(
        1,
        source,
        dest,
        bytes(32),
        address_to_bytes32("0x28b5a0e9C621a5BadaA536219b3a228C8168cf5d"),
        address_to_bytes32("0x28b5a0e9C621a5BadaA536219b3a228C8168cf5d"),
        bytes(32),
        2000,
        0,
        body,
    ).encode()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


@pytest.fixture
def iris():
    with FakeIris() as server:
        clock = Clock()
        server.clock = clock
        server.clock_obj = clock
        yield server


def client(server, **kw) -> IrisClient:
    cfg = IrisConfig(environment="custom", base_url=server.url, **kw)
    return IrisClient(cfg, clock=server.clock_obj, sleep=server.clock_obj.sleep, jitter=lambda: 0.0)


def handle(emitted: bytes, log_index: int = 3) -> RouteHandle:
    return RouteHandle("CCTP", "ethereum", "base", TX, log_index, emitted)


def test_client__request_shape__get_v2_messages_domain_with_transaction_hash(iris):
    emitted = burn()
    iris.play(0, TX, pending(emitted))
    result = client(iris).messages(0, TX)
    assert result.status is IrisStatus.PENDING
    assert result.messages[0].status == "pending_confirmations"
    assert result.messages[0].attestation is None and result.messages[0].message is None
    ((path, query, _),) = iris.requests
    assert path == "/v2/messages/0"
    assert query == {"transactionHash": ["0x" + TX.hex()]}


def test_fetch__pending_then_complete__none_then_the_attested_message(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3)
    iris.play(0, TX, pending(emitted), complete((emitted, attested)))
    source = IrisAttestations(client(iris))
    assert source.fetch(handle(emitted)) is None
    assert source.last.status is IrisStatus.PENDING
    iris.clock_obj.t += 5  # Circle: poll a burn every 5 s at most
    got = source.fetch(handle(emitted))
    assert got == attested
    assert len(iris.requests) == 2


def test_fetch__polled_again_within_the_poll_interval__no_request_sent(iris):
    emitted = burn()
    iris.play(0, TX, pending(emitted))
    source = IrisAttestations(client(iris, min_poll_interval_s=5))
    for _ in range(4):
        assert source.fetch(handle(emitted)) is None
        iris.clock_obj.t += 1
    assert len(iris.requests) == 1
    iris.clock_obj.t += 1  # 5 s after the first ask
    assert source.fetch(handle(emitted)) is None
    assert len(iris.requests) == 2


def test_fetch__404_then_complete__not_found_is_a_wait_not_an_error(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3)
    iris.play(0, TX, NOT_FOUND, complete((emitted, attested)))
    source = IrisAttestations(client(iris, min_poll_interval_s=0))
    assert source.fetch(handle(emitted)) is None
    assert source.last.status is IrisStatus.NOT_FOUND
    assert source.fetch(handle(emitted)) == attested


def test_fetch__429_with_retry_after__deferred_that_long_and_nothing_sent_meanwhile(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3)
    iris.play(
        0,
        TX,
        Reply(429, {"error": "rate limited"}, {"Retry-After": "7"}),
        complete((emitted, attested)),
    )
    c = client(iris, min_poll_interval_s=0)
    source = IrisAttestations(c)
    with pytest.raises(RouteDeferred) as err:
        source.fetch(handle(emitted))
    assert err.value.retry_after_s == 7
    assert "429" in str(err.value)
    # locked out: the other moves sharing the client do not ask either
    iris.clock_obj.t += 6
    with pytest.raises(RouteDeferred) as again:
        source.fetch(handle(emitted))
    assert again.value.retry_after_s == pytest.approx(1)
    other = c.messages(3, keccak(b"another burn"))
    assert other.status is IrisStatus.RATE_LIMITED
    assert len(iris.requests) == 1
    iris.clock_obj.t += 1
    assert source.fetch(handle(emitted)) == attested
    assert len(iris.requests) == 2


def test_fetch__429_without_retry_after__circles_5_minute_lockout(iris):
    emitted = burn()
    iris.play(0, TX, Reply(429, {}), pending(emitted))
    c = client(iris, min_poll_interval_s=0)
    with pytest.raises(RouteDeferred) as err:
        IrisAttestations(c).fetch(handle(emitted))
    assert err.value.retry_after_s == 300
    iris.clock_obj.t += 299
    assert c.messages(0, TX).status is IrisStatus.RATE_LIMITED
    iris.clock_obj.t += 1
    assert c.messages(0, TX).status is IrisStatus.PENDING
    assert len(iris.requests) == 2


def test_fetch__retry_after_as_http_date__read_as_a_delay(iris):
    import time
    from email.utils import formatdate

    emitted = burn()
    iris.play(0, TX, Reply(429, {}, {"Retry-After": formatdate(time.time() + 60, usegmt=True)}))
    with pytest.raises(RouteDeferred) as err:
        IrisAttestations(client(iris)).fetch(handle(emitted))
    assert 55 <= err.value.retry_after_s <= 61


@pytest.mark.parametrize(
    "reply, detail",
    [
        (Reply(200, "{'messages': [oops"), "malformed"),
        (Reply(200, {"data": {}}), "malformed"),
        (Reply(200, {"messages": [{"attestation": "0x12"}]}), "malformed"),
        (Reply(500, {"error": "internal"}), "HTTP 500"),
        (Reply(503, "unavailable"), "HTTP 503"),
    ],
)
def test_fetch__malformed_or_server_error__deferred_with_backoff_then_completes(
    iris, reply, detail
):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3)
    iris.play(0, TX, reply, complete((emitted, attested)))
    source = IrisAttestations(client(iris, min_poll_interval_s=0, error_backoff_s=9))
    with pytest.raises(RouteDeferred) as err:
        source.fetch(handle(emitted))
    assert detail in str(err.value) and err.value.retry_after_s == 9
    assert source.last.status is IrisStatus.ERROR
    assert source.fetch(handle(emitted)) == attested


def test_fetch__server_slower_than_the_timeout__error_not_a_hang(iris):
    import time

    emitted = burn()
    iris.play(0, TX, Reply(200, {"messages": []}, delay_s=1.5))
    source = IrisAttestations(client(iris, timeout_s=0.2))
    t0 = time.monotonic()
    with pytest.raises(RouteDeferred) as err:
        source.fetch(handle(emitted))
    assert time.monotonic() - t0 < 1.2
    assert "request failed" in str(err.value)


def test_fetch__nothing_listening__error_deferred():
    with FakeIris() as server:
        url = server.url
    clock = Clock()
    c = IrisClient(IrisConfig(environment="custom", base_url=url), clock=clock, sleep=clock.sleep)
    assert c.messages(0, TX).status is IrisStatus.ERROR


def test_complete_answer__attestation_signed_by_the_attester_over_the_filled_message(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3, fee_executed=1234)
    iris.play(0, TX, complete((emitted, attested)))
    got = IrisAttestations(client(iris)).fetch(handle(emitted))
    assert got is not None
    msg = CctpMessage.decode(got.message)
    assert msg.nonce != bytes(32) and msg.finality_threshold_executed == 2000
    assert BurnBody.decode(msg.body).fee_executed == 1234
    signer = Account._recover_hash(keccak(got.message), signature=got.attestation)
    assert signer == ATTESTER.address
    assert same_burn(emitted, got.message)


def test_complete_answer__only_another_burn_of_the_tx_attested__ours_still_pending(iris):
    ours, theirs = burn(800 * 10**6), burn(5 * 10**6)
    iris.play(
        0,
        TX,
        Reply(
            200,
            {
                "messages": [
                    complete((theirs, ATTESTER.attest(theirs, TX, 1))).body["messages"][0],
                    pending(ours).body["messages"][0],
                ]
            },
        ),
    )
    source = IrisAttestations(client(iris))
    assert source.fetch(handle(ours)) is None
    assert source.last.status is IrisStatus.COMPLETE  # the transaction has one complete message


def test_complete_answer__a_different_message__never_returned_for_our_burn(iris):
    ours = burn(800 * 10**6, dest=6)
    forged = ATTESTER.attest(burn(800 * 10**6, dest=3), TX, 3)  # same tx, other destination
    iris.play(0, TX, Reply(200, {"messages": [complete((ours, forged)).body["messages"][0]]}))
    assert IrisAttestations(client(iris)).fetch(handle(ours)) is None


def test_fetch__complete_once__later_reads_served_from_memory(iris):
    emitted = burn()
    iris.play(0, TX, complete((emitted, ATTESTER.attest(emitted, TX, 3))))
    source = IrisAttestations(client(iris, min_poll_interval_s=0))
    first = source.fetch(handle(emitted))
    assert all(source.fetch(handle(emitted)) == first for _ in range(5))
    assert len(iris.requests) == 1


def test_client__burst_of_requests__never_more_than_the_cap_in_any_second(iris):
    iris.play(0, TX, NOT_FOUND)
    c = client(iris, max_requests_per_s=10)
    for _ in range(35):  # Circle's limit is 35/s: a burst must be spread out, not sent
        assert c.messages(0, TX).status is IrisStatus.NOT_FOUND
    times = [t for _, _, t in iris.requests]
    assert len(times) == 35
    worst = max(sum(1 for u in times if t <= u < t + 1.0 - 1e-9) for t in times)
    assert worst == 10
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.1 - 1e-9
    assert times[-1] - times[0] >= 3.4 - 1e-9  # spaced 0.1 s apart: no burst


def test_client__cap_wait_longer_than_allowed__rate_limited_without_sending(iris):
    iris.play(0, TX, NOT_FOUND)
    cfg = IrisConfig(environment="custom", base_url=iris.url, max_requests_per_s=0.5)
    c = IrisClient(cfg, clock=iris.clock_obj, sleep=iris.clock_obj.sleep, max_wait_s=0.5)
    assert c.messages(0, TX).status is IrisStatus.NOT_FOUND
    limited = c.messages(0, TX)
    assert limited.status is IrisStatus.RATE_LIMITED and limited.retry_after_s == 2
    assert len(iris.requests) == 1


def test_parse_messages__documented_example__fields_read():
    doc = {
        "messages": [
            {
                "message": "0x0001",
                "eventNonce": "9682",
                "attestation": "0xabcd",
                "cctpVersion": "2",
                "status": "complete",
                "delayReason": "insufficient_fee",
            }
        ]
    }
    (m,) = parse_messages(doc)
    assert (m.message, m.attestation, m.event_nonce, m.cctp_version, m.delay_reason) == (
        b"\x00\x01",
        b"\xab\xcd",
        "9682",
        2,
        "insufficient_fee",
    )
    assert m.complete


@pytest.mark.parametrize(
    "doc, field, value",
    [
        ({"environment": "custom"}, "base_url", "None"),
        ({"environment": "custom", "base_url": "ftp://x"}, "base_url", "ftp://x"),
        ({"environment": "mainnet", "base_url": "http://x"}, "base_url", "http://x"),
        ({"environment": "prod"}, "environment", "prod"),
        ({"environment": "mainnet", "max_requests_per_s": 31}, "max_requests_per_s", "31"),
        ({"environment": "mainnet", "timeout_s": 0}, "timeout_s", "0"),
    ],
)
def test_iris_config__bad_values__error_names_field_and_value(doc, field, value):
    with pytest.raises(ValidationError) as err:
        IrisConfig.model_validate(doc)
    text = str(err.value)
    assert value in text
    assert field in text


def test_iris_config__environments__documented_hosts():
    assert (
        IrisConfig(environment="sandbox").url
        == IRIS_SANDBOX
        == "https://iris-api-sandbox.circle.com"
    )
    assert IrisConfig(environment="mainnet").url == IRIS_MAINNET == "https://iris-api.circle.com"
    custom = IrisConfig(environment="custom", base_url="http://127.0.0.1:9/")
    assert custom.url == "http://127.0.0.1:9"


def test_client__server_errors_in_a_row__backoff_doubles_then_resets_on_an_answer(iris):
    emitted = burn()
    iris.play(
        0,
        TX,
        Reply(500, {}),
        Reply(502, {}),
        Reply(200, "not json"),
        pending(emitted),
        Reply(500, {}),
    )
    c = client(iris, error_backoff_s=5)
    waits = [c.messages(0, TX).retry_after_s for _ in range(3)]
    assert waits == [5, 10, 20]
    assert c.messages(0, TX).status is IrisStatus.PENDING
    assert c.messages(0, TX).retry_after_s == 5  # an answer in between: back to the base


# ---------------------------------------------------------------- what Circle fills in, and refuses


def _old_same_burn(emitted: bytes, attested: bytes) -> bool:
    """The mask before: nonce, finalityThresholdExecuted and feeExecuted, not expirationBlock."""
    if len(emitted) != len(attested):
        return False

    def masked(raw: bytes) -> bytes:
        b = bytearray(raw)
        b[12:44] = bytes(32)
        b[144:148] = bytes(4)
        b[148 + 164 : 148 + 196] = bytes(32)
        return bytes(b)

    return masked(emitted) == masked(attested)


def test_local_attester__fills_every_field_iris_fills__expiration_block_never_zero():
    emitted = burn()
    got = CctpMessage.decode(
        ATTESTER.attest(emitted, TX, 3, fee_executed=77, destination_block=500).message
    )
    body = BurnBody.decode(got.body)
    assert got.nonce != bytes(32) and got.finality_threshold_executed == 2000
    assert body.fee_executed == 77 and body.expiration_block == 500 + ATTESTER.expiry_blocks
    assert BurnBody.decode(CctpMessage.decode(emitted).body).expiration_block == 0


def test_same_burn__mainnet_style_answer_with_expiration_block__old_mask_misses_it_new_matches():
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3, fee_executed=1_000, expiration_block=23_456_789)
    assert not _old_same_burn(emitted, attested.message)  # the move would have waited for ever
    assert same_burn(emitted, attested.message)


def test_same_burn__any_other_byte_changed__not_our_burn():
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3, fee_executed=1_000).message
    filled = {i for start, n in ATTESTER_FILLED for i in range(start, start + n)}
    for i in range(len(attested)):
        if i in filled:
            continue
        forged = bytearray(attested)
        forged[i] ^= 0x01
        assert not same_burn(emitted, bytes(forged)), i


def test_fetch__mainnet_answer_with_every_field_filled__matched_through_the_local_server(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3, fee_executed=4321, expiration_block=21_000_000)
    iris.play(0, TX, pending(emitted), complete((emitted, attested)))
    source = IrisAttestations(client(iris, min_poll_interval_s=0))
    assert source.fetch(handle(emitted)) is None
    assert source.fetch(handle(emitted)) == attested


@pytest.mark.parametrize("code", [400, 401, 403])
def test_fetch__permanent_answer__rejected_at_once_not_retried_as_transient(iris, code):
    emitted = burn()
    iris.play(0, TX, Reply(code, {"error": "Invalid transaction hash"}))
    source = IrisAttestations(client(iris, min_poll_interval_s=0))
    with pytest.raises(RouteRejected) as err:
        source.fetch(handle(emitted))
    assert f"HTTP {code}" in str(err.value) and "Invalid transaction hash" in str(err.value)
    assert not isinstance(err.value, RouteDeferred)
    assert source.last.status is IrisStatus.REJECTED


def test_fetch__429s_in_a_row__back_off_doubles_from_retry_after_then_resets(iris):
    emitted = burn()
    attested = ATTESTER.attest(emitted, TX, 3)
    limited = Reply(429, {}, {"Retry-After": "10"})
    iris.play(0, TX, limited, limited, limited, pending(emitted), limited)
    c = client(iris, min_poll_interval_s=0)
    waits = []
    for _ in range(3):
        r = c.messages(0, TX)
        assert r.status is IrisStatus.RATE_LIMITED
        waits.append(r.retry_after_s)
        iris.clock_obj.t += r.retry_after_s
    assert waits == [10, 20, 40]
    assert c.messages(0, TX).status is IrisStatus.PENDING  # an answer: back to Retry-After
    assert c.messages(0, TX).retry_after_s == 10
    assert attested  # the burn itself is untouched


def test_fetch__429_jitter__within_ten_percent_above_the_wait(iris):
    iris.play(0, TX, Reply(429, {}))
    cfg = IrisConfig(environment="custom", base_url=iris.url)
    c = IrisClient(cfg, clock=iris.clock_obj, sleep=iris.clock_obj.sleep, jitter=lambda: 0.999)
    assert 300 < c.messages(0, TX).retry_after_s < 330


def test_fetch__delay_reason__deferred_with_the_reason_named(iris):
    emitted = burn()
    held = pending(emitted)
    held.body["messages"][0]["delayReason"] = "insufficient_fee"
    iris.play(0, TX, held)
    with pytest.raises(RouteDelayed) as err:
        IrisAttestations(client(iris, min_poll_interval_s=0)).fetch(handle(emitted))
    assert err.value.reason == "insufficient_fee" and "insufficient_fee" in str(err.value)
