"""The canonical Safe 1.4.1 contracts: found where the chain has them, else deployed the way Safe
deploys them on a new chain, so that they land at the addresses `@safe-global/safe-deployments`
lists (Safe{Wallet}, its Transaction Builder and safe-eth-py accept a Safe whose master copy,
proxy factory and fallback handler are those).

How Safe deploys 1.4.1 on a new chain (safe-contracts 1.4.1, ``src/deploy/*.ts``: hardhat-deploy
with ``deterministicDeployment: true``, i.e. salt bytes32(0), through the factory the
``deterministicDeployment`` hook of its hardhat.config names):

1. **Safe's singleton factory** at 0x914d7Fec6aaC8cd542e72Bca78B30650d45643d7 (a CREATE2 proxy:
   calldata = salt ++ init code). Where the chain lacks it, its deployment is a transaction
   presigned for that chain id (EIP-155) that `@safe-global/safe-singleton-factory` ships as
   ``artifacts/<chain id>/deployment.json``: fund the signer with gasLimit x gasPrice, send the
   raw transaction (nonce 0 of the signer: anyone can, once).
2. **Each contract** by a call to the factory with salt 0 and the init code of the npm build
   `@safe-global/safe-contracts` 1.4.1 (the build the canonical deployments were made from: the
   address CREATE2 gives is checked against the package's before anything is sent, and the code
   found there against its code hash after).

A chain id the factory package has no presigned transaction for (an anvil started with a chain
id of its own) cannot get the factory by a transaction: nobody holds the signer's key. On an
anvil node, and only there, the factory's code is put at its address with ``anvil_setCode``:
the code is what the presigned transaction's init code returns (run with ``eth_call``), so the
factory, and every contract it then deploys, is byte for byte and address for address what a
chain Safe supports has; only the signer's nonce-0 transaction is missing, which nothing reads.
Any other node without the factory is refused with what to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from ballast_dev.deployment import npm_artifacts

SAFE_VERSION = "1.4.1"
SAFE_DEPLOYMENTS = f"@safe-global/safe-deployments/dist/assets/v{SAFE_VERSION}"
FACTORY_PACKAGE = "@safe-global/safe-singleton-factory"
# the canonical deployments' salt: hardhat-deploy's `deterministicDeployment: true` (bytes32(0))
SALT = b"\x00" * 32
# the contracts the project uses, by their safe-deployments file and npm build artifact
_BUILD = "@safe-global/safe-contracts/build/artifacts/contracts"
CONTRACTS: dict[str, tuple[str, str]] = {
    "SafeL2": ("safe_l2.json", f"{_BUILD}/SafeL2.sol/SafeL2.json"),
    "SafeProxyFactory": (
        "safe_proxy_factory.json",
        f"{_BUILD}/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    ),
    "CompatibilityFallbackHandler": (
        "compatibility_fallback_handler.json",
        f"{_BUILD}/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    ),
    "MultiSendCallOnly": (
        "multi_send_call_only.json",
        f"{_BUILD}/libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json",
    ),
}
# what a Safe needs (the deploy's batches add MultiSendCallOnly)
SAFE_CORE = ("SafeL2", "SafeProxyFactory", "CompatibilityFallbackHandler")


class CanonicalSafeError(RuntimeError):
    """The canonical contracts cannot be found or deployed on this chain (the message says why
    and what to do)."""


# ------------------------------------------------------------------ what the packages say


@dataclass(frozen=True)
class Canonical:
    name: str
    address: str
    code_hash: str  # 0x keccak256 of the runtime code


def canonical(name: str) -> Canonical:
    """``name``'s canonical 1.4.1 deployment as `@safe-global/safe-deployments` lists it."""
    doc = npm_artifacts.artifact(f"{SAFE_DEPLOYMENTS}/{CONTRACTS[name][0]}", CanonicalSafeError)
    dep = doc["deployments"]["canonical"]
    return Canonical(name, to_checksum_address(dep["address"]), str(dep["codeHash"]).lower())


def master_copies() -> tuple[str, ...]:
    """The canonical 1.4.1 singletons a Safe proxy may point to: SafeL2 (the project's) and
    Safe (the one without events, Safe{Wallet}'s default on Ethereum mainnet)."""
    out = []
    for file in ("safe_l2.json", "safe.json"):
        doc = npm_artifacts.artifact(f"{SAFE_DEPLOYMENTS}/{file}", CanonicalSafeError)
        out.append(to_checksum_address(doc["deployments"]["canonical"]["address"]))
    return tuple(out)


def init_code(name: str) -> bytes:
    """The creation code of ``name`` in the npm build of safe-contracts 1.4.1."""
    art = npm_artifacts.artifact(CONTRACTS[name][1], CanonicalSafeError)
    return bytes.fromhex(str(art["bytecode"]).removeprefix("0x"))


def create2_address(deployer: str, salt: bytes, code: bytes) -> str:
    raw = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + keccak(code))
    return to_checksum_address(raw[12:])


@dataclass(frozen=True)
class FactoryInfo:
    """Safe's singleton factory on one chain id: `artifacts/<id>/deployment.json`."""

    address: str
    signer: str
    gas_price: int
    gas_limit: int
    transaction: bytes  # the presigned raw transaction

    @property
    def funding(self) -> int:
        return self.gas_price * self.gas_limit


def _factory_dir() -> Path:
    return npm_artifacts.NODE_MODULES / FACTORY_PACKAGE / "artifacts"


@cache
def factory_info(chain_id: int) -> FactoryInfo | None:
    """The presigned deployment of the factory for ``chain_id``, or None when the package has
    none for it."""
    if not _factory_dir().is_dir():
        raise CanonicalSafeError(f"{_factory_dir()} missing: run `make setup` (npm ci)")
    path = _factory_dir() / str(chain_id) / "deployment.json"
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    return FactoryInfo(
        address=to_checksum_address(d["address"]),
        signer=to_checksum_address(d["signerAddress"]),
        gas_price=int(d["gasPrice"]),
        gas_limit=int(d["gasLimit"]),
        transaction=bytes.fromhex(str(d["transaction"]).removeprefix("0x")),
    )


def factory_chain_ids() -> list[int]:
    """The chain ids the factory package ships a presigned deployment for."""
    return sorted(int(p.name) for p in _factory_dir().iterdir() if p.name.isdigit())


def factory_address() -> str:
    """The factory's address: the same on every chain (one signer, nonce 0)."""
    info = factory_info(1)
    if info is None:
        raise CanonicalSafeError(f"{FACTORY_PACKAGE}: no deployment for chain id 1")
    return info.address


def factory_init_code() -> bytes:
    """The factory's creation code: the data of the presigned transaction (identical for every
    chain id; chain id 1's is read), after checking the transaction is the signer's nonce 0
    creating the factory's address."""
    import rlp  # type: ignore[import-untyped]  # eth-account's dependency
    from eth_account import Account

    info = factory_info(1)
    assert info is not None
    nonce, _gp, _gas, to, _value, data, *_sig = rlp.decode(info.transaction)
    sender = Account.recover_transaction(info.transaction)
    from eth_utils import to_canonical_address

    expected = to_checksum_address(keccak(rlp.encode([to_canonical_address(sender), 0]))[12:])
    if int.from_bytes(nonce, "big") != 0 or to != b"" or expected != info.address:
        raise CanonicalSafeError(
            f"{FACTORY_PACKAGE}: chain id 1's transaction does not create {info.address}"
        )
    if sender != info.signer:
        raise CanonicalSafeError(f"{FACTORY_PACKAGE}: signed by {sender}, not {info.signer}")
    return bytes(data)


# ------------------------------------------------------------------ the route on one chain

PRESENT, PRESIGNED, SET_CODE = "present", "presigned", "anvil_setCode"


def factory_route(chain_id: int, has_factory: bool, client_version: str) -> str:
    """How the factory gets onto a chain: already there; by the presigned transaction for this
    chain id; or, on an anvil node of a chain id the package does not know, by
    ``anvil_setCode``. Any other node is refused, naming the chain id and what to do."""
    if has_factory:
        return PRESENT
    if factory_info(chain_id) is not None:
        return PRESIGNED
    if client_version.lower().startswith("anvil"):
        return SET_CODE
    raise CanonicalSafeError(
        f"chain id {chain_id}: no Safe singleton factory at {factory_address()} and "
        f"{FACTORY_PACKAGE} has no presigned deployment for this chain id, so the canonical "
        f"Safe {SAFE_VERSION} contracts cannot be deployed here: ask Safe to deploy the factory "
        "(github.com/safe-global/safe-singleton-factory, new chain request), or give an "
        "existing Safe (roles.admin.safe.address)"
    )


# ------------------------------------------------------------------ on chain


def preflight(names: Iterable[str] = SAFE_CORE) -> str | None:
    """Before a deploy's first transaction: how the canonical contracts would get onto the
    connected chain (None: all there, with the canonical code), or CanonicalSafeError."""
    from ape import chain

    w3 = chain.provider.web3
    missing = False
    for c in (canonical(n) for n in names):
        code = bytes(w3.eth.get_code(c.address))
        if code:
            _check_code(c, code)
        else:
            missing = True
    if not missing:
        return None
    factory = factory_address()
    return factory_route(int(w3.eth.chain_id), bool(w3.eth.get_code(factory)), _client_version(w3))


@dataclass(frozen=True)
class CanonicalSafe:
    """The canonical addresses on the connected chain, with what this run had to do."""

    addresses: dict[str, str]
    factory_route: str | None  # None: every contract was already there
    deployed: tuple[str, ...]


def ensure_canonical(
    steps: Any,
    deployer: Any,
    names: Iterable[str] = SAFE_CORE,
    *,
    log: Callable[[str], None] = print,
) -> CanonicalSafe:
    """The canonical 1.4.1 deployments of ``names`` on the connected chain (ape's provider),
    deployed through Safe's singleton factory where missing. The deployer's transactions go
    through ``steps`` (ballast_dev.deployment.record: recorded and resumed); the factory's own
    deployment is the package's presigned transaction (the deployer funds its signer). A
    contract already at its canonical address must have the canonical code hash."""
    from ape import chain

    provider = chain.provider
    w3 = provider.web3
    chain_id = int(w3.eth.chain_id)
    wanted = [canonical(n) for n in names]
    missing = []
    for c in wanted:
        code = bytes(w3.eth.get_code(c.address))
        if code:
            _check_code(c, code)
        else:
            missing.append(c)
    addresses = {c.name: c.address for c in wanted}
    if not missing:
        return CanonicalSafe(addresses, None, ())
    factory = factory_address()
    route = factory_route(chain_id, bool(w3.eth.get_code(factory)), _client_version(w3))
    if route == PRESIGNED:
        info = factory_info(chain_id)
        assert info is not None
        _presigned_factory(steps, deployer, w3, info, log)
    elif route == SET_CODE:
        _set_factory_code(w3, factory, chain_id, log)
    for c in missing:
        code = init_code(c.name)
        at = create2_address(factory, SALT, code)
        if at != c.address:
            raise CanonicalSafeError(
                f"{c.name}: the npm build of safe-contracts {SAFE_VERSION} lands at {at} "
                f"through the singleton factory, not at {c.address} (safe-deployments)"
            )
        steps.call(
            f"safe.canonical:{c.name}",
            deployer,
            factory,
            SALT + code,
            what=f"deploy {c.name} {SAFE_VERSION} (Safe singleton factory, canonical)",
        )
        deployed = bytes(w3.eth.get_code(c.address))
        if not deployed:
            raise CanonicalSafeError(
                f"{c.name}: no code at {c.address} after the singleton factory's call"
            )
        _check_code(c, deployed)
    log(
        f"Safe {SAFE_VERSION} canonical contracts deployed at the safe-deployments addresses: "
        + ", ".join(f"{c.name} {c.address}" for c in missing)
    )
    return CanonicalSafe(addresses, route, tuple(c.name for c in missing))


def _check_code(c: Canonical, code: bytes) -> None:
    got = "0x" + keccak(code).hex()
    if got != c.code_hash:
        raise CanonicalSafeError(
            f"{c.name} at {c.address}: code hash {got}, not the canonical Safe {SAFE_VERSION}'s "
            f"{c.code_hash} (safe-deployments)"
        )


def _client_version(w3: Any) -> str:
    try:
        return str(w3.client_version)
    except Exception:  # noqa: BLE001 - a node that does not answer web3_clientVersion
        return ""


def _presigned_factory(
    steps: Any, deployer: Any, w3: Any, info: FactoryInfo, log: Callable[[str], None]
) -> None:
    """Funds the factory's signer with what its presigned transaction costs (only the
    shortfall) and sends that transaction."""
    if steps.done("safe.singleton_factory"):
        return
    used = int(w3.eth.get_transaction_count(info.signer))
    if used:
        raise CanonicalSafeError(
            f"Safe singleton factory: its signer {info.signer} has sent {used} transaction(s) on "
            f"this chain but the factory is not at {info.address}: its presigned deployment "
            "(nonce 0) can no longer be sent here"
        )
    short = info.funding - int(w3.eth.get_balance(info.signer))
    if short > 0:
        steps.transfer("safe.singleton_factory.fund", deployer, info.signer, short)
    steps.raw(
        "safe.singleton_factory",
        info.transaction,
        sender=info.signer,
        nonce=0,
        what=f"deploy Safe singleton factory (presigned, {FACTORY_PACKAGE})",
    )
    log(f"Safe singleton factory deployed at {info.address} by its presigned transaction")


def _set_factory_code(w3: Any, factory: str, chain_id: int, log: Callable[[str], None]) -> None:
    runtime = bytes(w3.eth.call({"data": "0x" + factory_init_code().hex()}))
    if not runtime:
        raise CanonicalSafeError("Safe singleton factory: its init code returned no code")
    w3.provider.make_request("anvil_setCode", [factory, "0x" + runtime.hex()])
    if bytes(w3.eth.get_code(factory)) != runtime:
        raise CanonicalSafeError(f"anvil_setCode did not put the factory's code at {factory}")
    log(
        f"Safe singleton factory: {FACTORY_PACKAGE} has no presigned deployment for chain id "
        f"{chain_id}; on this anvil node its code (the presigned init code's output) was set at "
        f"{factory} with anvil_setCode"
    )
