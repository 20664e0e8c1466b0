"""Approvals bound to the exact plan (issue 15): EIP-712 typed data of a keeper plan, its hash,
signing, signer recovery, and counting the approvals that hold. Pure: no chain, no clock.

A plan is what the admins approve and what the PlanExecutor contract
(contracts/fund/PlanExecutor.sol) recomputes before each action:

    domain  {name: "Ballast PlanExecutor", version: "1", chainId, verifyingContract: executor}
    message Plan(bytes32 planId,address controller,uint64 deadline,bytes[] actions,
                 uint16[] maxSlippageBps)

so a signature covers the chain, the executor, the controller, the deadline, every byte of the
ordered calldata and each leg's band; change any of them and the signature recovers to another
address, which is not an owner.

A pool leg (purchaseAsset / redeemAsset) is signed by its *aim*, its calldata with minOut zero:
the keeper sets minOut when it sends the leg, from the fill it simulated just before
(keepers.fund.fills), and the executor refuses a minOut worth less than the oracle value of the
leg at execution less the leg's ``maxSlippageBps``. What the owners sign is therefore "this
trade, never more than N bps under the oracle when it runs", not a minOut frozen at the price
of the signing (which a later price move would turn into slack for any searcher). `count_approvals` is the keeper's (and `keeper review`'s) view of the same rule
the contract enforces above the threshold: distinct current Safe owners, this plan, in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from eth_abi import encode
from eth_account import Account
from eth_account.messages import SignableMessage, _hash_eip191_message, encode_typed_data
from eth_utils import keccak, to_checksum_address

from keepers.core.signatures import Recovered, safe_typed_hash, try_recover

DOMAIN_NAME = "Ballast PlanExecutor"
DOMAIN_VERSION = "1"
PLAN_TYPE = [
    {"name": "planId", "type": "bytes32"},
    {"name": "controller", "type": "address"},
    {"name": "deadline", "type": "uint64"},
    {"name": "actions", "type": "bytes[]"},
    {"name": "maxSlippageBps", "type": "uint16[]"},
]
EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
UINT64_MAX = 2**64 - 1
UINT16_MAX = 2**16 - 1

PURCHASE_SELECTOR = keccak(text="purchaseAsset(address,uint256,uint256)")[:4]
REDEEM_SELECTOR = keccak(text="redeemAsset(address,uint256,uint256)")[:4]
#: the controller's pool legs: signed by their aim (minOut zero), sent with a minOut
POOL_LEG_SELECTORS = frozenset({PURCHASE_SELECTOR, REDEEM_SELECTOR})
_LEG_LENGTH = 4 + 3 * 32  # selector, token, amount, minOut
_AIM_LENGTH = 4 + 2 * 32


def is_pool_leg(calldata: bytes) -> bool:
    """A purchaseAsset / redeemAsset call of the ABI's length (the executor's rule)."""
    return len(calldata) == _LEG_LENGTH and calldata[:4] in POOL_LEG_SELECTORS


def aim(calldata: bytes) -> bytes:
    """What the plan declares for an action: a pool leg with its minOut zeroed (the executor
    hashes the same), any other action unchanged."""
    if is_pool_leg(calldata):
        return calldata[:_AIM_LENGTH] + bytes(32)
    return calldata


def leg_min_out(calldata: bytes) -> int | None:
    """A pool leg's minOut (None for another action)."""
    if not is_pool_leg(calldata):
        return None
    return int.from_bytes(calldata[_AIM_LENGTH:], "big")


def with_min_out(calldata: bytes, min_out: int) -> bytes:
    """The pool leg ``calldata`` (or its aim) with ``min_out`` as its minOut."""
    if not is_pool_leg(calldata):
        raise ValueError(f"not a pool leg (selector 0x{calldata[:4].hex()}): no minOut to set")
    if not 0 <= min_out < 2**256:
        raise ValueError(f"min_out {min_out} does not fit uint256")
    return calldata[:_AIM_LENGTH] + min_out.to_bytes(32, "big")


def _bytes(value: bytes | str) -> bytes:
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(value.removeprefix("0x"))


@dataclass(frozen=True)
class SignedPlan:
    """A keeper plan as approvers sign it. `actions` is the ordered calldata sent to the
    controller through the executor, a pool leg held as its aim (minOut zero: `aim`);
    `max_slippage_bps` the band of each action (a pool leg's minOut may be at most this far under
    the oracle value at execution; ignored for other actions; empty: 0 for every action);
    `deadline` is unix seconds (the executor refuses after)."""

    plan_id: bytes
    chain_id: int
    executor: str
    controller: str
    deadline: int
    actions: tuple[bytes, ...]
    max_slippage_bps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        pid = _bytes(self.plan_id)
        if len(pid) != 32:
            raise ValueError(f"plan_id must be 32 bytes, got {len(pid)}: {self.plan_id!r}")
        object.__setattr__(self, "plan_id", pid)
        object.__setattr__(self, "executor", to_checksum_address(self.executor))
        object.__setattr__(self, "controller", to_checksum_address(self.controller))
        object.__setattr__(self, "actions", tuple(aim(_bytes(a)) for a in self.actions))
        bands = tuple(int(b) for b in self.max_slippage_bps) or (0,) * len(self.actions)
        if len(bands) != len(self.actions):
            raise ValueError(
                f"max_slippage_bps has {len(bands)} bands for {len(self.actions)} actions: one each"
            )
        for i, b in enumerate(bands):
            if not 0 <= b <= UINT16_MAX:
                raise ValueError(f"max_slippage_bps[{i}] must fit uint16, got {b}")
        object.__setattr__(self, "max_slippage_bps", bands)
        if not 0 <= self.deadline <= UINT64_MAX:
            raise ValueError(f"deadline must fit uint64, got {self.deadline}")
        if self.chain_id <= 0:
            raise ValueError(f"chain_id must be positive, got {self.chain_id}")
        if not self.actions:
            raise ValueError("a plan needs at least one action")

    @staticmethod
    def plan_id_for(ref: str) -> bytes:
        """The on-chain plan id of a keeper plan reference (keccak256 of its text)."""
        return keccak(text=ref)

    def action_hashes(self) -> list[bytes]:
        """keccak256 of each action as declared (a pool leg's aim), in order (what executeAction
        takes)."""
        return [keccak(a) for a in self.actions]

    def header(self) -> tuple[bytes, str, int, list[int]]:
        """The PlanHeader tuple of executeAction / hashPlan."""
        return (self.plan_id, self.controller, self.deadline, list(self.max_slippage_bps))

    def to_frozen(self, order: list[int], functions: list[str]) -> dict[str, Any]:
        """The plan as the keeper stores it when it freezes a plan (payload key ``frozen``):
        JSON only. ``order[k]`` is the planner's action index sent at position k (the on-chain
        index), ``functions[k]`` its controller function (for people, not hashed)."""
        if len(order) != len(self.actions) or len(functions) != len(self.actions):
            raise ValueError(
                f"order ({len(order)}) and functions ({len(functions)}) must match the "
                f"{len(self.actions)} actions"
            )
        return {
            "chain_id": self.chain_id,
            "executor": self.executor,
            "controller": self.controller,
            "plan_id": "0x" + self.plan_id.hex(),
            "deadline": self.deadline,
            "actions": ["0x" + a.hex() for a in self.actions],
            "max_slippage_bps": list(self.max_slippage_bps),
            "order": list(order),
            "functions": list(functions),
            "plan_hash": "0x" + plan_hash(self).hex(),
        }

    @classmethod
    def from_frozen(cls, doc: dict[str, Any]) -> SignedPlan:
        """The plan back from a stored ``frozen`` document. Its hash is always recomputed from
        these fields (the stored ``plan_hash`` is informational): an edited action, deadline or
        address gives another hash, so earlier signatures stop counting."""
        missing = [
            k
            for k in (
                "chain_id",
                "executor",
                "controller",
                "plan_id",
                "deadline",
                "actions",
                "max_slippage_bps",
            )
            if k not in doc
        ]
        if missing:
            raise ValueError(f"frozen plan lacks {', '.join(missing)}")
        return cls(
            plan_id=doc["plan_id"],
            chain_id=int(doc["chain_id"]),
            executor=doc["executor"],
            controller=doc["controller"],
            deadline=int(doc["deadline"]),
            actions=tuple(doc["actions"]),
            max_slippage_bps=tuple(int(b) for b in doc["max_slippage_bps"]),
        )


def typed_data(plan: SignedPlan) -> dict[str, Any]:
    """The full EIP-712 message (what a wallet shows and signs)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Plan": PLAN_TYPE},
        "primaryType": "Plan",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": plan.chain_id,
            "verifyingContract": plan.executor,
        },
        "message": {
            "planId": plan.plan_id,
            "controller": plan.controller,
            "deadline": plan.deadline,
            "actions": list(plan.actions),
            "maxSlippageBps": list(plan.max_slippage_bps),
        },
    }


def signable(plan: SignedPlan) -> SignableMessage:
    return encode_typed_data(full_message=typed_data(plan))


def plan_hash(plan: SignedPlan) -> bytes:
    """The EIP-712 digest: equal to PlanExecutor.hashPlan(header, actionHashes)."""
    return bytes(_hash_eip191_message(signable(plan)))


def sign_plan(plan: SignedPlan, private_key: bytes | str) -> bytes:
    """A 65-byte r|s|v signature of the plan by a raw key (tests, scripts)."""
    return bytes(Account.sign_message(signable(plan), private_key).signature)


def sign_plan_with(plan: SignedPlan, account: Any) -> bytes:
    """A 65-byte r|s|v signature by an ape account (keyfile, hardware wallet, test account):
    the account signs the typed data, so a wallet can show what it signs."""
    sig = account.sign_message(signable(plan))
    if sig is None:
        raise ValueError(f"account {account.address} refused to sign the plan")
    return pack_signature(sig.v, sig.r, sig.s)


def pack_signature(v: int, r: bytes | int, s: bytes | int) -> bytes:
    """r|s|v, 65 bytes. ape's MessageSignature holds r and s as minimal big-endian bytes (a
    leading zero byte is dropped, about one signature in 128): padded back to 32 bytes here,
    or the contract sees a 64-byte signature and does not count it."""

    def word(x: bytes | int) -> bytes:
        n = x if isinstance(x, int) else int.from_bytes(bytes(x), "big")
        return n.to_bytes(32, "big")

    return word(r) + word(s) + bytes([v if v >= 27 else v + 27])


def recover_signer(plan: SignedPlan, signature: bytes | str) -> str | None:
    """The address whose signature of *this* plan `signature` is, by the executor's own rule
    (keepers.core.signatures: 65 bytes, low s, v 27/28); None when it would not count. Any
    other plan's signature recovers to an unrelated address."""
    return signature_reason(plan_hash(plan), signature).signer


def signature_reason(digest: bytes, signature: bytes | str) -> Recovered:
    """`try_recover` on 0x hex or bytes; a signature that is not hex does not count."""
    try:
        raw = _bytes(signature)
    except ValueError:
        return Recovered(None, "not 0x hex")
    return try_recover(digest, raw)


@dataclass(frozen=True)
class ApprovalCount:
    """Who counts, and why each other signature does not (index in the input, reason).

    ``approvers``: the distinct current owners who signed (a key, or a contract owner through
    ERC-1271). ``safe``: the admin Safe, when it approved the plan itself (a Safe message its
    owners signed, ERC-1271), worth its current ``safe_weight`` (threshold) of owners. The
    count is the larger of the two, never their sum: the executor's rule."""

    approvers: tuple[str, ...]
    rejected: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    safe: str | None = None
    safe_weight: int = 0

    @property
    def count(self) -> int:
        return max(len(self.approvers), self.safe_weight if self.safe else 0)

    def enough(self, required: int) -> bool:
        return self.count >= required


#: ERC-1271's magic value: ``isValidSignature(bytes32,bytes)`` answers it for a valid signature
ERC1271_MAGIC = bytes.fromhex("1626ba7e")
#: the gas the executor lets a contract signer use (PlanExecutor.ERC1271_GAS)
ERC1271_GAS = 500_000

#: (contract signer, digest, its signature bytes) -> valid, by ERC-1271 on chain
Erc1271Check = Callable[[str, bytes, bytes], bool]


class ContractSigners(TypedDict, total=False):
    """Who may sign by contract, by name, for `count_approvals` and `review_signatures`:
    the admin ``safe`` (its approval weighs ``safe_threshold``, default 0) and ``erc1271``,
    the on-chain check of a contract signature (without it none counts)."""

    safe: str | None
    safe_threshold: int
    erc1271: Erc1271Check | None


def contract_signature(signature: bytes | str) -> tuple[str, bytes] | None:
    """``signer ‖ signature`` (20 bytes of address, then the contract's own bytes): the
    executor's form for a contract signer; None for a 65-byte key signature or anything
    shorter than an address and one byte."""
    try:
        raw = _bytes(signature)
    except ValueError:
        return None
    if len(raw) == 65 or len(raw) <= 20:
        return None
    return to_checksum_address(raw[:20]), raw[20:]


def erc1271_checker(w3: Any) -> Erc1271Check:
    """ERC-1271 through ``eth_call`` as the executor checks it: the signer has code and answers
    ``isValidSignature(digest, signature)`` with the magic value within ERC1271_GAS gas."""

    def check(signer: str, digest: bytes, signature: bytes) -> bool:
        try:
            if not w3.eth.get_code(signer):
                return False
            data = ERC1271_MAGIC + encode(["bytes32", "bytes"], [digest, signature])
            out = w3.eth.call({"to": signer, "data": data, "gas": ERC1271_GAS})
        except Exception:  # noqa: BLE001 - a revert, out of gas, a node error: not valid
            return False
        return len(out) >= 32 and bytes(out[:4]) == ERC1271_MAGIC

    return check


def safe_message_hash(chain_id: int, safe: str, digest: bytes) -> bytes:
    """What each owner signs when the Safe signs ``digest`` as a message (Safe{Wallet}'s
    "sign message", CompatibilityFallbackHandler.getMessageHashForSafe): EIP-712 SafeMessage
    over the 32 bytes, in the Safe's domain (chainId, the Safe's address)."""
    return safe_typed_hash(
        chain_id, safe, "SafeMessage", [{"name": "message", "type": "bytes"}], {"message": digest}
    )


def count_approvals(
    plan: SignedPlan,
    signatures: list[bytes | str],
    owners: set[str] | list[str],
    now: int,
    deadline: int | None = None,
    **signers: Unpack[ContractSigners],
) -> ApprovalCount:
    """Counts distinct current `owners` who signed this exact plan, as of `now`, by the
    executor's rule (PlanExecutor.countApprovals).

    A 65-byte signature is an owner key's (low s, v 27/28). A longer one is a contract
    signer's (``signer ‖ bytes``), checked with ``erc1271`` (ERC-1271 on chain; without it
    such a signature is not counted): a contract that is a current owner counts once; the
    admin ``safe`` itself (a Safe message of the plan hash) counts as ``safe_threshold``.

    `deadline` is the approval SLA's (the earlier of it and the plan's own deadline applies);
    past it nothing counts. Signatures of another plan, chain or executor recover to an address
    that is not an owner; a repeated signer counts once."""
    limit = plan.deadline if deadline is None else min(deadline, plan.deadline)
    if now > limit:
        reason = f"expired: now {now} > deadline {limit}"
        return ApprovalCount((), tuple((i, reason) for i in range(len(signatures))))
    current = {to_checksum_address(o) for o in owners}
    safe, erc1271 = signers.get("safe"), signers.get("erc1271")
    the_safe = to_checksum_address(safe) if safe else None
    seen: list[str] = []
    rejected: list[tuple[int, str]] = []
    safe_approved = False
    digest = plan_hash(plan)
    for i, sig in enumerate(signatures):
        by_contract = contract_signature(sig)
        if by_contract is not None:
            signer, inner = by_contract
            if erc1271 is None:
                why = f"contract signature of {signer}: no node to check it"
                if len(inner) == 44:
                    why = "a 64-byte EIP-2098 short signature: expected 65 bytes r|s|v"
                rejected.append((i, why))
                continue
            if not erc1271(signer, digest, inner):
                why = f"{signer} does not sign this plan hash (ERC-1271 isValidSignature)"
                if len(inner) == 44:  # 64 bytes in all: a key's EIP-2098 short form
                    why = (
                        "a 64-byte EIP-2098 short signature: the executor counts only 65-byte "
                        "r|s|v (ask the signer for that form)"
                    )
                rejected.append((i, why))
                continue
            if signer == the_safe:
                safe_approved = True
                continue
        else:
            got = signature_reason(digest, sig)
            if got.signer is None:
                rejected.append((i, f"does not count: {got.reason}"))
                continue
            signer = got.signer
        if signer not in current:
            rejected.append((i, f"{signer} is not a current owner (or signed another plan)"))
        elif signer in seen:
            rejected.append((i, f"{signer} already counted"))
        else:
            seen.append(signer)
    return ApprovalCount(
        tuple(seen),
        tuple(rejected),
        safe=the_safe if safe_approved else None,
        safe_weight=int(signers.get("safe_threshold", 0)) if safe_approved else 0,
    )


#: executeAction((bytes32,address,uint64,uint16[]),uint256,bytes,bytes32[],bytes[])
EXECUTE_ACTION_SIGNATURE = (
    "executeAction((bytes32,address,uint64,uint16[]),uint256,bytes,bytes32[],bytes[])"
)


def encode_execute_action(
    plan: SignedPlan,
    index: int,
    signatures: tuple[bytes, ...] | list[bytes] = (),
    action: bytes | None = None,
) -> bytes:
    """Calldata of PlanExecutor.executeAction for action `index` of `plan` (what the keeper's
    pipeline sends to the executor instead of the bare controller call). ``action`` is the
    calldata sent (a pool leg with the minOut set at send time: its aim must be the plan's
    action); by default the declared action itself."""
    if not 0 <= index < len(plan.actions):
        raise ValueError(f"index {index} outside the plan's {len(plan.actions)} actions")
    sent = plan.actions[index] if action is None else _bytes(action)
    if aim(sent) != plan.actions[index]:
        raise ValueError(f"action {index}: the calldata sent is not the plan's action at {index}")
    selector = keccak(text=EXECUTE_ACTION_SIGNATURE)[:4]
    args = encode(
        ["(bytes32,address,uint64,uint16[])", "uint256", "bytes", "bytes32[]", "bytes[]"],
        [plan.header(), index, sent, plan.action_hashes(), list(signatures)],
    )
    return selector + args


def typed_data_json(plan: SignedPlan) -> dict[str, Any]:
    """`typed_data(plan)` as JSON (bytes as 0x hex): what `keeper review PLAN --typed-data`
    prints for a signer elsewhere (a hardware wallet through ape, `cast wallet sign --data`,
    eth_account's ``encode_typed_data(full_message=...)``); it hashes to `plan_hash(plan)`."""

    def plain(x: Any) -> Any:
        if isinstance(x, bytes):
            return "0x" + x.hex()
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [plain(v) for v in x]
        return x

    return plain(typed_data(plan))  # type: ignore[no-any-return]


def recover_hash_signer(digest: bytes | str, signature: bytes | str) -> str | None:
    """Who signed `digest` (a plan hash as it was when signed), None if malformed."""
    try:
        d = _bytes(digest)
    except ValueError:
        return None
    if len(d) != 32:
        return None
    return signature_reason(d, signature).signer


@dataclass(frozen=True)
class SignatureVerdict:
    """One recorded approval as `keeper review` shows it: who signed (recovered over the
    hash it signed), whether it counts now (this plan's current hash, a stored admin, in
    time, first of its signer) and why not."""

    signer: str | None
    counts: bool
    reason: str = ""


def review_signatures(
    plan: SignedPlan,
    signed: list[tuple[str, str]],
    owners: set[str] | list[str],
    now: int,
    deadline: int | None = None,
    **signers: Unpack[ContractSigners],
) -> list[SignatureVerdict]:
    """A verdict per recorded approval (``(signature, plan_hash it signed)``, 0x hex; an empty
    signature is an unsigned ``--by`` approval). Counting is `count_approvals`' (the keeper's
    rule), so review and keeper agree; the reason adds what recovery alone cannot say: that
    the plan changed after the signature (its signed hash is not the plan's hash now)."""
    current = "0x" + plan_hash(plan).hex()
    idx = [i for i, (sig, _) in enumerate(signed) if sig]
    counted = count_approvals(
        plan,
        [signed[i][0] for i in idx],
        owners,
        now,
        deadline,
        **signers,
    )
    why = {idx[j]: reason for j, reason in counted.rejected}
    out = []
    for i, (sig, signed_hash) in enumerate(signed):
        if not sig:
            out.append(
                SignatureVerdict(
                    None, False, "unsigned (--by): only signatures count for a frozen plan"
                )
            )
            continue
        by_contract = contract_signature(sig)
        if by_contract is not None:
            who: str | None = by_contract[0]
        else:
            who = recover_hash_signer(signed_hash, sig) if signed_hash else None
            who = who or recover_signer(plan, sig)
        if i not in why:
            out.append(SignatureVerdict(who, True))
            continue
        reason = why[i]
        if signed_hash and signed_hash.lower() != current and not reason.startswith("expired"):
            reason = (
                f"signed plan hash {signed_hash} but the plan's hash is now {current}: "
                "the plan changed after this signature"
            )
        elif who is not None and "not a current owner" in reason:
            reason = f"{who} is not among the stored admins (owners)"
        out.append(SignatureVerdict(who, False, reason))
    return out
