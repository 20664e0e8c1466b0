"""Deploy a real Safe 1.4.1 multisig with ape, and run Safe transactions signed by its owners.

The Safe's contracts are the canonical Safe 1.4.1 deployments (ballast_dev.deployment.
canonical_safe): the SafeL2 singleton (it emits the events indexers read), SafeProxyFactory and
CompatibilityFallbackHandler at the addresses `@safe-global/safe-deployments` lists, found on the
chain or deployed there the way Safe does (its singleton factory, the npm build of
`@safe-global/safe-contracts` 1.4.1, salt 0). A Safe is a SafeProxy created by the factory with
`setup(owners, threshold, ...)` as its initializer, so Safe{Wallet} and safe-eth-py know it.

`exec_safe_tx` does what the Safe web app does for a transaction every owner signs off-line:
the Safe transaction hash (EIP-712, `getTransactionHash` at the Safe's current nonce), one
ECDSA signature per owner over that hash, the signatures packed r|s|v in ascending owner order
(Safe's `checkNSignatures` requires it), then `execTransaction` sent by any account.

Why not `ape-safe` (PyPI) here: its 0.8 line resolves against this venv but is an account
plugin around the Safe transaction service (proposals posted to an HTTP API, the Safe found by
address in `ape safe` config): no service runs on the local chain, and tests need Safes created
per module. The signing done here is the protocol itself (Safe's own hash and checks on chain),
so what passes here passes with any Safe client.

Usage::

    safe = deploy_safe(deployer, owners=[alice, bob, carol], threshold=2)
    exec_safe_tx(safe, target.address, calldata, signers=[alice, carol], sender=alice)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballast_dev.deployment import npm_artifacts
from ballast_dev.deployment.canonical_safe import CONTRACTS, SAFE_VERSION
from keepers.fund.planning.plan_approval import pack_signature

# the npm build's artifacts (ABI and bytecode) of the Safe contracts the project uses
ARTIFACTS = {name: artifact for name, (_deployments, artifact) in CONTRACTS.items()}
ZERO = "0x" + "00" * 20


class SafeDeploymentError(RuntimeError):
    pass


NPM = npm_artifacts.Package(ARTIFACTS, SafeDeploymentError)
container = NPM.container  # an ape ContractContainer for one of ARTIFACTS


@dataclass
class SafeSingletons:
    singleton: Any
    factory: Any
    fallback_handler: Any


def _bound(name: str, address: str) -> Any:
    from ape.contracts import ContractInstance

    return ContractInstance(address, container(name).contract_type)


def canonical_singletons(deployer: Any, steps: Any = None, log: Any = None) -> SafeSingletons:
    """The three shared contracts a Safe needs, at their canonical 1.4.1 addresses: found on the
    chain, or deployed there through Safe's singleton factory (``deployer`` pays; ``steps``
    records the transactions, none by default)."""
    from ballast_dev.deployment.canonical_safe import SAFE_CORE, ensure_canonical
    from ballast_dev.deployment.record import DirectSteps

    c = ensure_canonical(
        steps or DirectSteps(), deployer, SAFE_CORE, log=log or (lambda _msg: None)
    )
    return SafeSingletons(
        singleton=_bound("SafeL2", c.addresses["SafeL2"]),
        factory=_bound("SafeProxyFactory", c.addresses["SafeProxyFactory"]),
        fallback_handler=_bound(
            "CompatibilityFallbackHandler", c.addresses["CompatibilityFallbackHandler"]
        ),
    )


def deploy_safe(
    deployer: Any,
    owners: list[Any],
    threshold: int,
    *,
    singletons: SafeSingletons | None = None,
    salt_nonce: int | None = None,
) -> Any:
    """A Safe proxy with `owners` and `threshold`, as an ape contract with the SafeL2 ABI.
    ``salt_nonce`` None: the first one whose address is free (the canonical factory gives the
    same owners and threshold the same address per salt nonce)."""
    if not 1 <= threshold <= len(owners):
        raise SafeDeploymentError(f"threshold {threshold} must lie in [1, {len(owners)}] owners")
    s = singletons or canonical_singletons(deployer)
    owner_addresses = [getattr(o, "address", o) for o in owners]
    safe_abi = container("SafeL2")
    setup = s.singleton.setup.encode_input(
        owner_addresses, threshold, ZERO, b"", s.fallback_handler.address, ZERO, 0, ZERO
    )
    if salt_nonce is None:
        from ape import chain

        salt_nonce = 0
        while chain.provider.get_code(
            proxy_address(s.factory, s.singleton.address, setup, salt_nonce)
        ):
            salt_nonce += 1
    receipt = s.factory.createProxyWithNonce(
        s.singleton.address, setup, salt_nonce, sender=deployer
    )
    events = receipt.decode_logs(s.factory.ProxyCreation)
    if not events:
        raise SafeDeploymentError("SafeProxyFactory emitted no ProxyCreation")
    safe = safe_abi.at(events[0].proxy)
    if safe.VERSION() != SAFE_VERSION:
        raise SafeDeploymentError(f"Safe reports version {safe.VERSION()}, expected {SAFE_VERSION}")
    return safe


def safe_tx_hash(
    safe: Any, to: str, data: bytes | str, *, value: int = 0, nonce: int | None = None
) -> bytes:
    """The EIP-712 hash owners sign for a plain CALL (no refund, no gas token). The Safe's
    `nonce` view is read by name: ape's `.nonce` on a contract is its account nonce."""
    n = int(safe.call_view_method("nonce")) if nonce is None else nonce
    return bytes(safe.getTransactionHash(to, value, data, 0, 0, 0, 0, ZERO, ZERO, n))


def owner_signature(account: Any, tx_hash: bytes) -> bytes:
    """One owner's ECDSA signature of the Safe transaction hash, r|s|v with v in {27, 28}
    (what Safe's checkNSignatures recovers with ecrecover on the hash itself)."""
    sig = account.sign_raw_msghash(tx_hash)
    if sig is None:
        raise SafeDeploymentError(f"account {account.address} cannot sign a raw hash")
    return pack_signature(sig.v, sig.r, sig.s)


def safe_message_signature(safe: Any, digest: bytes, owners: list[Any]) -> bytes:
    """The Safe's own ERC-1271 signature of ``digest`` as the PlanExecutor and `keeper approve
    --signature` take it: the Safe's address, then ``owners``' signatures of the Safe's message
    hash of ``digest`` (CompatibilityFallbackHandler.getMessageHashForSafe, what Safe{Wallet}
    has owners sign for "sign message"), packed in ascending owner order. Local chains and
    tests: on a real network Safe{Wallet} collects the owners' signatures."""
    handler = container("CompatibilityFallbackHandler").at(safe.address)
    message_hash = bytes(handler.getMessageHashForSafe(safe.address, digest))
    packed = pack_signatures({str(o.address): owner_signature(o, message_hash) for o in owners})
    return bytes.fromhex(str(safe.address)[2:]) + packed


def pack_signatures(signatures: dict[str, bytes]) -> bytes:
    """Owner address -> signature, packed in ascending owner address order."""
    return b"".join(signatures[a] for a in sorted(signatures, key=lambda a: int(a, 16)))


def exec_safe_tx(
    safe: Any, to: str, data: bytes | str, *, signers: list[Any], sender: Any, value: int = 0
) -> Any:
    """Signs a CALL to `to` by each of `signers` and executes it through `safe`; the Safe
    reverts (GS0xx) with fewer valid owner signatures than its threshold."""
    h = safe_tx_hash(safe, to, data, value=value)
    sigs = {s.address: owner_signature(s, h) for s in signers}
    return safe.execTransaction(
        to, value, data, 0, 0, 0, 0, ZERO, ZERO, pack_signatures(sigs), sender=sender
    )


def safe_admin_call(safe: Any, target: Any, calldata: bytes | str, signers: list[Any]) -> Any:
    """A direct admin call (the Safe holds ADMIN_ROLE) as a Safe transaction signed by
    `signers`; the first signer sends it. Fewer than the threshold: the Safe reverts (GS020)."""
    to = getattr(target, "address", target)
    return exec_safe_tx(safe, to, calldata, signers=signers, sender=signers[0])


def timelock_via_safe(
    safe: Any,
    timelock: Any,
    target: Any,
    calldata: bytes | str,
    signers: list[Any],
    *,
    salt: bytes = b"\x00" * 32,
    execute: bool = True,
) -> bytes:
    """Schedules `calldata` on `target` through the timelock (the Safe is its proposer), as a
    Safe transaction; with `execute`, also executes it (the Safe is its executor), which the
    timelock refuses before its delay has passed. Returns the timelock operation id."""
    to = getattr(target, "address", target)
    pred = b"\x00" * 32
    op_id = bytes(timelock.hashOperation(to, 0, calldata, pred, salt))
    delay = int(timelock.getMinDelay())
    schedule = timelock.schedule.encode_input(to, 0, calldata, pred, salt, delay)
    safe_admin_call(safe, timelock, schedule, signers)
    if execute:
        run = timelock.execute.encode_input(to, 0, calldata, pred, salt)
        safe_admin_call(safe, timelock, run, signers)
    return op_id


# ------------------------------------------------------------------ the deploy's steps
#
# scripts/deploy.py records every transaction (ballast_dev.deployment.record): the Safe's
# creation and the Safe transactions the deploy makes for its owners are named steps too, so a
# deploy interrupted between them resumes without creating a second Safe or signing twice.


def deploy_safe_steps(
    steps: Any,
    deployer: Any,
    owners: list[Any],
    threshold: int,
    *,
    salt_nonce: int,
    log: Any = None,
) -> Any:
    """`deploy_safe` as recorded steps: the canonical singletons (deployed where the chain lacks
    them), then the proxy (at the address CREATE2 gives it: `proxy_address`). The deploy's
    ``salt_nonce`` is the fund's vault address as a number: one Safe per fund (the canonical
    factory would give a second fund with the same owners and threshold the same address),
    the same one when a deploy resumes."""
    if not 1 <= threshold <= len(owners):
        raise SafeDeploymentError(f"threshold {threshold} must lie in [1, {len(owners)}] owners")
    s = canonical_singletons(deployer, steps, log)
    singleton, factory, handler = s.singleton, s.factory, s.fallback_handler
    owner_addresses = [str(getattr(o, "address", o)) for o in owners]
    setup = singleton.setup.encode_input(
        owner_addresses, threshold, ZERO, b"", handler.address, ZERO, 0, ZERO
    )
    steps.send(
        "safe.createProxyWithNonce",
        factory.createProxyWithNonce,
        singleton.address,
        setup,
        salt_nonce,
        sender=deployer,
    )
    from ape import chain

    proxy = proxy_address(factory, singleton.address, setup, salt_nonce)
    if not chain.provider.get_code(proxy):
        raise SafeDeploymentError(f"no Safe proxy at {proxy}, where the factory creates it")
    safe = at(proxy)
    if safe.VERSION() != SAFE_VERSION:
        raise SafeDeploymentError(f"Safe reports version {safe.VERSION()}, expected {SAFE_VERSION}")
    return safe


def multisend_steps(steps: Any, deployer: Any, log: Any = None) -> str:
    """The MultiSendCallOnly 1.4.1 the admin Safe's batches go through (Safe{Wallet}'s
    Transaction Builder sends several calls as one DELEGATECALL to it): the canonical one,
    deployed through Safe's singleton factory where the chain lacks it."""
    from ballast_dev.deployment.canonical_safe import ensure_canonical

    c = ensure_canonical(steps, deployer, ("MultiSendCallOnly",), log=log or (lambda _m: None))
    return c.addresses["MultiSendCallOnly"]


def proxy_address(factory: Any, singleton: str, initializer: bytes, salt_nonce: int) -> str:
    """Where SafeProxyFactory.createProxyWithNonce puts the proxy (CREATE2: salt =
    keccak(keccak(initializer) ++ saltNonce), code = proxyCreationCode ++ singleton). Computed,
    not read from the call's return value, so a resumed deploy finds the same Safe."""
    from eth_abi import encode
    from eth_utils import keccak, to_checksum_address

    salt = keccak(keccak(bytes(initializer)) + encode(["uint256"], [salt_nonce]))
    code = bytes(factory.proxyCreationCode()) + encode(["uint256"], [int(singleton, 16)])
    raw = keccak(b"\xff" + bytes.fromhex(str(factory.address)[2:]) + salt + keccak(code))
    return to_checksum_address(raw[12:])


def at(address: str) -> Any:
    """The Safe at ``address`` with the SafeL2 ABI (bound afresh, not from ape's cache)."""
    from ape.contracts import ContractInstance
    from eth_utils import to_checksum_address

    return ContractInstance(to_checksum_address(address), container("SafeL2").contract_type)


def to_checksum(raw: bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(raw)


def check_safe(address: str, owners: list[str] | None, threshold: int | None) -> Any:
    """An existing Safe, verified on chain before the deploy sends anything: code at
    ``address`` answering as a Safe 1.4.x, a proxy of a canonical 1.4.1 master copy (SafeL2 or
    Safe: what Safe{Wallet} supports), with exactly ``owners`` and ``threshold`` when given.
    Raises SafeDeploymentError naming what differs."""
    from ape import chain

    if not chain.provider.get_code(address):
        raise SafeDeploymentError(f"roles.admin.safe.address={address}: no contract code there")
    safe = at(address)
    try:
        version = str(safe.VERSION())
        actual_owners = [str(o) for o in safe.getOwners()]
        actual_threshold = int(safe.getThreshold())
    except Exception as e:  # noqa: BLE001 - any revert or decoding error: not a Safe
        raise SafeDeploymentError(
            f"roles.admin.safe.address={address}: does not answer as a Safe "
            f"(VERSION/getOwners/getThreshold: {type(e).__name__})"
        ) from None
    if not version.startswith("1.4"):
        raise SafeDeploymentError(
            f"roles.admin.safe.address={address}: Safe version {version}, expected 1.4.x"
        )
    from ballast_dev.deployment.canonical_safe import master_copies

    raw = bytes(chain.provider.web3.eth.get_storage_at(address, 0))  # the proxy's singleton
    singleton = to_checksum(raw[-20:])
    if singleton not in master_copies():
        raise SafeDeploymentError(
            f"roles.admin.safe.address={address}: a proxy of {singleton}, not of a canonical "
            f"Safe {SAFE_VERSION} master copy ({', '.join(master_copies())}): Safe{{Wallet}} "
            "does not support it"
        )
    if owners is not None and sorted(o.lower() for o in owners) != sorted(
        o.lower() for o in actual_owners
    ):
        raise SafeDeploymentError(
            f"roles.admin.safe.owners={owners}: the Safe at {address} has owners {actual_owners}"
        )
    if threshold is not None and threshold != actual_threshold:
        raise SafeDeploymentError(
            f"roles.admin.safe.threshold={threshold}: the Safe at {address} has threshold "
            f"{actual_threshold}"
        )
    return safe


def safe_step(
    steps: Any,
    key: str,
    safe: Any,
    target: Any,
    calldata: bytes | str,
    *,
    signers: list[Any],
    sender: Any,
) -> None:
    """One Safe transaction as a recorded step: signed by ``signers`` (owners' keys, on a local
    chain) at the Safe's current nonce, sent by ``sender`` (any account: the deployer pays the
    gas, the owners only sign). A step already in the record is neither signed nor sent."""
    if steps.done(key):
        return
    to = str(getattr(target, "address", target))
    h = safe_tx_hash(safe, to, calldata)
    sigs = pack_signatures({str(s.address): owner_signature(s, h) for s in signers})
    steps.send(
        key, safe.execTransaction, to, 0, calldata, 0, 0, 0, 0, ZERO, ZERO, sigs, sender=sender
    )
