"""Issue 68: the share proofs (tests/symbolic/share_maths.py) run on tests/symbolic/share_model.py,
the vault's formulas re-expressed with ``mulDiv`` summarised by its lemma. This file ties that
text to the deployed code: the model on Python integers against the real TieredVault (6- and
18-decimal bases, fees on, seeded states put in its storage), and the lemma's transcription
against the real OpenZeppelin ``Math.mulDiv`` (its text pinned, its answers on seeded 256-bit
inputs against exact integers). An edit of the vault's formulas not made in the model, or a new
OpenZeppelin, fails here."""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

import pytest
from eth_utils import keccak

from tests.offchain.test_symbolic_harness_in_step import function_body

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests/symbolic"))
import share_model as sm  # noqa: E402

pytestmark = pytest.mark.usefixtures("frozen_clock")

SAMPLES = 60  # seeded states per base (each: one setFees, a few storage writes, eight calls)
MULDIV_SAMPLES = 400
# sha256 of Math.mul512's and Math.mulDiv's text (whitespace-normalised): the transcription in
# share_maths.py (oz_muldiv_bits) follows this text; a new OpenZeppelin must be re-transcribed
MUL512_SHA = "fdae146e411a66610846a12550fa108f65e46deb921157ba691daf5f15a654b1"
MULDIV_SHA = "b410db5af394057ad3e81f32adc978cf279f8caa5fd377d279c236568795521a"


def _word(v: int) -> str:
    return "0x" + v.to_bytes(32, "big").hex()


class Slots:
    """The vault's storage, found on the deployed vault and checked against its getters (the
    contract is changed by others: a slot found by its declared order alone could drift)."""

    def __init__(self, chain, vault, controller):
        self.rpc = chain.provider.web3.provider.make_request
        self.w3 = chain.provider.web3
        self.vault = vault
        base = next(
            i
            for i in range(64)
            if int.from_bytes(self.read(i), "big") & (2**160 - 1) == int(controller.address, 16)
        )
        # declared after `controller` (TieredVault's STORAGE section): the reserves' slot,
        # nextRequestToFulfil, _requests, isOperator, _fees, _hwm, _book
        self.reserves, self.fees, self.hwm, self.book = base + 1, base + 5, base + 6, base + 7
        self.supply = 2  # OpenZeppelin ERC20: _balances, _allowances, _totalSupply

    def read(self, slot: int) -> bytes:
        return bytes(self.w3.eth.get_storage_at(self.vault.address, slot))

    def write(self, addr, slot: int, value: int):
        self.rpc("anvil_setStorageAt", [str(addr), _word(slot), _word(value)])


def _put_state(chain, vault, usdt, pricing, slots: Slots, st: sm.VaultState, recipient):
    slots.write(vault.address, slots.supply, st.supply)
    bal_slot = int.from_bytes(
        keccak(bytes.fromhex(vault.address[2:].rjust(64, "0")) + bytes(32)), "big"
    )
    slots.write(usdt.address, bal_slot, st.bal)
    slots.write(vault.address, slots.reserves, st.claimable << 96)
    fee_word = (
        int(recipient.address, 16) | st.mgmt_bps << 160 | st.perf_bps << 176 | st.accrued_at << 192
    )
    slots.write(vault.address, slots.fees, fee_word)
    slots.write(vault.address, slots.hwm, st.hwm)
    slots.write(vault.address, slots.book, st.book)
    assert vault.totalSupply() == st.supply and usdt.balanceOf(vault) == st.bal
    assert vault.claimableRedemptions() == st.claimable and vault.highWaterMark() == st.hwm
    assert vault.fees()[1:] == (st.mgmt_bps, st.perf_bps, st.accrued_at)


def _random_state(rng: random.Random, unit: int, now: int) -> sm.VaultState:
    def amount(top: int) -> int:
        return rng.choice([0, 1, rng.randrange(1, 1000), rng.randrange(1, top + 1)])

    top = 10**12 * unit  # a trillion tokens
    low = amount(top)
    high = low + rng.choice([0, amount(low // 10 + 1)])
    bal = amount(top)
    supply = rng.choice(
        [0, amount(top * sm.OFFSET), (bal + low + 1) * sm.OFFSET * rng.randrange(1, 3)]
    )
    mgmt = rng.choice(
        [0, sm.MAX_MANAGEMENT_FEE_BPS, rng.randrange(0, sm.MAX_MANAGEMENT_FEE_BPS + 1)]
    )
    perf = rng.choice(
        [0, sm.MAX_PERFORMANCE_FEE_BPS, rng.randrange(1, sm.MAX_PERFORMANCE_FEE_BPS + 1)]
    )
    if mgmt == perf == 0:
        perf = 1_000
    price = sm.Exact.mul_div(bal + low + 1, sm.PRICE_SCALE, supply + sm.OFFSET)
    return sm.VaultState(
        supply=supply,
        bal=bal,
        claimable=min(rng.choice([0, 0, amount(bal + 1)]), 2**96 - 1),  # a uint96 in the vault
        low=low,
        high=high,
        down=rng.random() < 0.1,
        mgmt_bps=mgmt,
        perf_bps=perf,
        accrued_at=now
        - rng.choice([0, 1, rng.randrange(0, 86_400), rng.randrange(0, 20 * sm.YEAR)]),
        now=now,
        hwm=rng.choice([0, price, price * rng.randrange(50, 150) // 100]),
        book=rng.choice([0, bal, bal * rng.randrange(50, 150) // 100]),
    )


@pytest.fixture
def model_vault(project, deployer, usdt, accounts):
    """A TieredVault of its own (its storage is written over), priced by the test double."""
    vault = deployer.deploy(project.TieredVault, usdt, "Share maths", "SM", deployer)
    pricing = deployer.deploy(project.TestPricingController)
    vault.setController(pricing, sender=deployer)
    vault.setFeeRecipient(accounts[9], sender=deployer)
    return vault, pricing


def test_share_model__equals_the_vault__seeded_states_with_fees(
    chain, usdt, unit, base_decimals, model_vault, accounts, deployer
):
    vault, pricing = model_vault
    slots = Slots(chain, vault, pricing)
    rng = random.Random(68_000 + base_decimals)
    checked = 0
    for i in range(SAMPLES):
        now = chain.pending_timestamp
        st = _random_state(rng, unit, now - 1)
        # fees on through the vault's own setter (it keeps _feesOn), then the state written
        pricing.set(0, 0, False, sender=deployer)  # a raise waits for pricing
        vault.setFees(st.mgmt_bps, st.perf_bps, sender=deployer)
        pricing.set(st.low, st.high, st.down, sender=deployer)
        chain.mine()
        st.now = chain.blocks.head.timestamp
        st.accrued_at = min(st.accrued_at, st.now)
        _put_state(chain, vault, usdt, pricing, slots, st, accounts[9])
        a = rng.choice([0, 1, rng.randrange(1, 10**9 * unit)])
        s = rng.choice([0, 1, rng.randrange(1, 10**9 * unit * sm.OFFSET)])
        m = sm.Exact
        got = {
            "pendingFeeShares": vault.pendingFeeShares(),
            "previewDeposit": vault.previewDeposit(a),
            "previewMint": vault.previewMint(s),
            "previewWithdraw": vault.previewWithdraw(a),
            "previewRedeem": vault.previewRedeem(s),
            "convertToShares": vault.convertToShares(a),
            "convertToAssets": vault.convertToAssets(s),
        }
        want = {
            "pendingFeeShares": sm.supply_now(m, st) - st.supply,
            "previewDeposit": sm.preview_deposit(m, st, a),
            "previewMint": sm.preview_mint(m, st, s),
            "previewWithdraw": sm.preview_withdraw(m, st, a),
            "previewRedeem": sm.preview_redeem(m, st, s),
            "convertToShares": sm.convert_to_shares(m, st, a),
            "convertToAssets": sm.convert_to_assets(m, st, s),
        }
        assert got == want, f"sample {i}: {st}, a={a}, s={s}"
        checked += want["pendingFeeShares"] != 0
    # the fees were really charged in most states (not a run of fees-off states)
    assert checked >= SAMPLES // 4, checked


def test_share_model__round_trips_on_the_vault_equal_the_model(
    chain, usdt, unit, model_vault, accounts, deployer
):
    """The actual entries and exits, in blocks of one second (frozen_clock): each equals the
    model's preview at its state, and deposit -> redeem and mint -> redeem return at most what
    went in, with fees on (the rules share_maths.py proves)."""
    vault, pricing = model_vault
    alice = accounts[3]
    vault.setFees(sm.MAX_MANAGEMENT_FEE_BPS, sm.MAX_PERFORMANCE_FEE_BPS, sender=deployer)
    usdt.mint(alice, 10**9 * unit, sender=deployer)
    usdt.approve(vault, 2**256 - 1, sender=alice)
    vault.deposit(10**6 * unit, alice, sender=alice)  # a holder, and a fee slot in use
    # then a tenth more invested value (a gain: the performance fee), entry above exit
    pricing.set(10**5 * unit, 10**5 * unit + 12_345, False, sender=deployer)
    chain.mine(timestamp=chain.pending_timestamp + 30 * 86_400)
    rng = random.Random(6868)
    for _ in range(6):
        a = rng.randrange(1, 10**5 * unit)
        before = vault.balanceOf(alice)
        want = vault.previewDeposit(a)
        vault.deposit(a, alice, sender=alice)
        got = vault.balanceOf(alice) - before
        assert got == want
        paid_before = usdt.balanceOf(alice)
        vault.redeem(got, alice, alice, sender=alice)
        assert usdt.balanceOf(alice) - paid_before <= a
        s = rng.randrange(1, 10**4 * unit * sm.OFFSET)
        cost = vault.previewMint(s)
        paid_before = usdt.balanceOf(alice)
        vault.mint(s, alice, sender=alice)
        assert paid_before - usdt.balanceOf(alice) == cost
        paid_before = usdt.balanceOf(alice)
        vault.redeem(s, alice, alice, sender=alice)
        assert usdt.balanceOf(alice) - paid_before <= cost


def test_muldiv_transcription__pinned_to_openzeppelins_text():
    src = (ROOT / "node_modules/@openzeppelin/contracts/utils/math/Math.sol").read_text()
    for name, sha in (("mul512", MUL512_SHA), ("mulDiv", MULDIV_SHA)):
        body = function_body(src, name)
        assert hashlib.sha256(body.encode()).hexdigest() == sha, (
            f"Math.{name} changed: re-transcribe tests/symbolic/share_maths.py oz_muldiv_bits and "
            "re-run make prove, then update the hash here"
        )


def test_muldiv__real_library_equals_exact_integers(project, deployer):
    """The deployed Math.mulDiv (floor and ceil) against Python's exact quotient on seeded
    256-bit inputs, most on the 512-bit path (x * y >= 2^256), each answer that does not fit
    the word a revert."""
    md = deployer.deploy(project.TestMulDiv)
    rng = random.Random(512)
    wide = 0
    for _ in range(MULDIV_SAMPLES):
        bits = rng.choice([8, 64, 128, 200, 255, 256])
        x, y = rng.getrandbits(bits), rng.getrandbits(256)
        d = rng.choice(
            [
                1,
                2 ** rng.randrange(0, 256),
                rng.getrandbits(rng.randrange(1, 257)) | 1,
                rng.getrandbits(256),
            ]
        )
        if d == 0 or x * y // d >= 2**256:
            continue
        wide += x * y >= 2**256
        q, r = divmod(x * y, d)
        assert md.mulDiv(x, y, d, False) == q
        if q + (r > 0) < 2**256:
            assert md.mulDiv(x, y, d, True) == q + (r > 0)
    assert wide >= MULDIV_SAMPLES // 4, wide
