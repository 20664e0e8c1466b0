"""The deployment record, written step by step, and the steps that write it (issue 13: a deploy
that failed after 6 transactions left orphaned contracts and nothing recorded).

Every transaction of a deploy is a named step (``deploy:vault``, ``vault.setController``, ...).
`RecordedSteps` sends each step once and writes the record after it (atomically: a crash leaves
the previous or the next version, never half a file): the chain id, the network, the deployer,
the profile's hash and, per step, the transaction, its block, its gas and what it deployed. Run
again on the same network with the same profile, it resumes: steps already in the record are not
sent again (a deployed contract is reused after checking its code is there), so nothing is
deployed twice. A record of another chain, another profile or another deployer is refused.

Before it sends, a step is written as ``pending`` with its nonce and transaction hash; on resume
a pending step is settled from the chain (mined: recorded; not mined and its nonce still free:
sent again under the same nonce; its nonce used by another transaction: refused).

`DirectSteps` has the same interface and records nothing (tests and the demo).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from keepers.tx.contracts import DeploymentError, read_record

RECORD_VERSION = 1


class RecordError(RuntimeError):
    """A record that cannot be resumed here (another chain, profile or deployer; code missing)."""


class DeployInterrupted(RuntimeError):
    """Raised by the fault injector after N recorded steps (tests of resumption)."""


def profile_hash(profile: Any) -> str:
    """sha256 of the validated profile (canonical JSON): comments and layout do not count,
    any value does."""
    doc = profile.model_dump(mode="json")
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _address(x: Any) -> str:
    return str(getattr(x, "address", x))


def _what(method: Any) -> str:
    contract = getattr(method, "contract", None)
    name = getattr(getattr(contract, "contract_type", None), "name", None) or "contract"
    abis = getattr(method, "abis", None) or []
    fn = abis[0].name if abis else "call"
    return f"{name}.{fn}"


class DirectSteps:
    """Sends every step as ape does, records nothing."""

    def deploy(self, key: str, container: Any, *args: Any, sender: Any) -> Any:
        return sender.deploy(container, *args)

    def send(
        self, key: str, method: Any, *args: Any, sender: Any, value: int = 0, result: bool = False
    ) -> Any:
        kw: dict[str, Any] = {"sender": sender}
        if value:
            kw["value"] = value
        receipt = method(*args, **kw)
        return receipt.return_value if result else None

    def transfer(self, key: str, sender: Any, to: Any, value: int) -> None:
        sender.transfer(_address(to), value)

    def call(self, key: str, sender: Any, to: Any, data: bytes, *, what: str) -> None:
        from ape import networks

        txn = networks.provider.network.ecosystem.create_transaction(
            sender=sender.address, receiver=_address(to), data=data
        )
        sender.call(txn)

    def raw(self, key: str, raw_tx: bytes, *, sender: str, nonce: int, what: str) -> None:
        from ape import networks

        provider = networks.provider
        tx_hash = provider.web3.eth.send_raw_transaction(raw_tx)
        provider.get_receipt("0x" + bytes(tx_hash).hex())

    def done(self, key: str) -> bool:
        return False


class RecordedSteps:
    """Sends each step once and records it; resumes from `data` (a record loaded by `open`).

    ``path`` None keeps the record in memory (the dry run). ``stop_after``: raise
    DeployInterrupted once the record holds that many steps (fault injection)."""

    def __init__(
        self,
        path: Path | None,
        data: dict[str, Any],
        *,
        log: Callable[[str], None] = print,
        stop_after: int | None = None,
    ) -> None:
        self.path = path
        self.data = data
        self.log = log
        self.stop_after = stop_after
        self.sent: list[dict[str, Any]] = []  # steps sent by this run (the plan of a dry run)
        self._by_key = {s["step"]: s for s in data["steps"]}

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | None,
        header: dict[str, Any],
        *,
        provider: Any,
        existing: Path | None = None,
        log: Callable[[str], None] = print,
        stop_after: int | None = None,
    ) -> RecordedSteps:
        """A new record with ``header`` (network, chain_id, deployer, profile, profile_hash), or
        the incomplete record at ``existing`` (default ``path``) checked against it."""
        source = existing if existing is not None else path
        if source is None or not source.exists():
            data = {"version": RECORD_VERSION, "complete": False, **header, "steps": []}
            steps = cls(path, data, log=log, stop_after=stop_after)
            steps._write()
            return steps
        data = load_record(source)
        check_resumable(data, header, source)
        steps = cls(path, data, log=log, stop_after=stop_after)
        steps._settle_pending(provider)
        steps._check_code(provider, source)
        steps._check_nonce(provider, source)
        n = len(data["steps"])
        if n:
            last = data["steps"][-1]
            log(
                f"resuming from {source}: {n} steps done (last: {last['step']}, block {last['block']})"
            )
        return steps

    # -- steps -----------------------------------------------------------------------------

    def done(self, key: str) -> bool:
        return key in self._by_key

    def deploy(self, key: str, container: Any, *args: Any, sender: Any) -> Any:
        if key in self._by_key:
            return _bind(container, self._by_key[key]["address"])
        txn = container(*args)
        txn.sender = sender.address
        name = container.contract_type.name or "contract"
        receipt = self._send(key, sender, txn, what=f"deploy {name}", to=None)
        return _bind(container, receipt.contract_address)

    def send(
        self, key: str, method: Any, *args: Any, sender: Any, value: int = 0, result: bool = False
    ) -> Any:
        if key in self._by_key:
            return self._by_key[key].get("result")
        kw: dict[str, Any] = {"sender": sender}
        if value:
            kw["value"] = value
        # the unprepared transaction (as ape's own __call__ builds it): `as_transaction` would
        # prepare it twice (gas estimate, fees, nonce) before _send prepares it once
        txn = method._as_transaction(*args).serialize_transaction(*args, **kw)
        self._send(key, sender, txn, what=_what(method), to=txn.receiver, result=result)
        return self._by_key[key].get("result")

    def transfer(self, key: str, sender: Any, to: Any, value: int) -> None:
        if key in self._by_key:
            return
        from ape import networks

        txn = networks.provider.network.ecosystem.create_transaction(
            sender=sender.address, receiver=_address(to), value=value
        )
        self._send(key, sender, txn, what=f"transfer {value} wei", to=_address(to))

    def call(self, key: str, sender: Any, to: Any, data: bytes, *, what: str) -> None:
        """A transaction of ``data`` to ``to`` (a contract with no ABI here: Safe's singleton
        factory), as a step."""
        if key in self._by_key:
            return
        from ape import networks

        txn = networks.provider.network.ecosystem.create_transaction(
            sender=sender.address, receiver=_address(to), data=data
        )
        self._send(key, sender, txn, what=what, to=_address(to))

    def raw(self, key: str, raw_tx: bytes, *, sender: str, nonce: int, what: str) -> None:
        """A transaction signed elsewhere (a presigned deployment: the signer is not the
        deployer), sent as it is, as a step recorded under its signer and nonce."""
        if key in self._by_key:
            return
        from ape import networks
        from eth_utils import keccak

        provider = networks.provider
        tx_hash = "0x" + keccak(raw_tx).hex()
        pending = {"step": key, "from": sender, "nonce": nonce, "tx": tx_hash}
        self.data["pending"] = pending
        self._write()
        try:
            provider.web3.eth.send_raw_transaction(raw_tx)
            receipt = provider.get_receipt(tx_hash)
        except Exception:
            if self._mined(provider, tx_hash):
                self._failed(pending)
            raise
        self._record(key, what, None, sender, nonce, receipt)

    def _send(
        self, key: str, sender: Any, txn: Any, *, what: str, to: Any, result: bool = False
    ) -> Any:
        from ape import networks

        provider = networks.provider
        # wait for inclusion only: the network's confirmations are awaited once, after the last
        # step (a later block confirms every earlier one)
        txn.required_confirmations = 0
        txn = sender.prepare_transaction(txn)
        signed = sender.sign_transaction(txn)
        if signed is None:
            raise RecordError(f"step {key}: the transaction was not signed")
        tx_hash = None
        if getattr(signed, "signature", None) is not None:
            tx_hash = "0x" + bytes(signed.txn_hash).hex()
        frm = str(sender.address)
        pending = {"step": key, "from": frm, "nonce": int(signed.nonce), "tx": tx_hash}
        self.data["pending"] = pending
        self._write()
        try:
            receipt = provider.send_transaction(signed)
        except Exception:
            if self._mined(provider, tx_hash):  # reverted on chain: its nonce is spent
                self._failed(pending)
            raise
        self._record(key, what, to, frm, int(signed.nonce), receipt, result)
        return receipt

    @staticmethod
    def _mined(provider: Any, tx_hash: str | None) -> Any:
        """The transaction's web3 receipt if it is mined (without waiting), else None."""
        if not tx_hash:
            return None
        try:
            return provider.web3.eth.get_transaction_receipt(tx_hash)
        except Exception:  # noqa: BLE001 - web3's TransactionNotFound: not mined
            return None

    def _failed(self, pending: dict[str, Any]) -> None:
        """A step whose transaction was mined and reverted: not done (a re-run sends it again,
        under a new nonce), its nonce accounted for."""
        self.data.setdefault("failed", []).append(pending)
        self.data.pop("pending", None)
        self._write()

    def _record(
        self,
        key: str,
        what: str,
        to: Any,
        frm: str,
        nonce: int,
        receipt: Any,
        result: bool = False,
    ) -> None:
        step: dict[str, Any] = {
            "step": key,
            "what": what,
            "from": frm,
            "nonce": nonce,
            "tx": str(receipt.txn_hash),
            "block": int(receipt.block_number),
            "gas": int(receipt.gas_used),
        }
        if receipt.contract_address:
            step["address"] = str(receipt.contract_address)
        elif to is not None:
            step["to"] = str(to)
        if result:
            value = receipt.return_value
            step["result"] = int(value) if isinstance(value, int) else str(value)
        self.data["steps"].append(step)
        self.data.pop("pending", None)
        self._by_key[key] = step
        self.sent.append(step)
        self._write()
        if self.stop_after is not None and len(self.data["steps"]) >= self.stop_after:
            raise DeployInterrupted(
                f"fault injection: stopped after {len(self.data['steps'])} steps"
            )

    # -- finishing -------------------------------------------------------------------------

    def finish(self, addresses: dict[str, Any], handover: dict[str, Any], head: int) -> None:
        """The deploy's addresses (the keepers' format) and the hand-over left to the admin;
        the record is complete."""
        self.data.update(addresses)
        self.data["handover"] = handover
        self.data["block"] = head
        steps = self.data["steps"]
        self.data["blocks"] = {
            "first": min((s["block"] for s in steps), default=head),
            "last": max((s["block"] for s in steps), default=head),
        }
        self.data["complete"] = True
        self._write()

    def wait_confirmations(self, provider: Any, confirmations: int, timeout: float = 900) -> None:
        """Waits until the last step has ``confirmations`` blocks on top of its own."""
        steps = self.data["steps"]
        if not confirmations or not steps:
            return
        target = max(s["block"] for s in steps) + confirmations
        deadline = time.monotonic() + timeout
        while int(provider.get_block("latest").number) < target:
            if time.monotonic() > deadline:
                raise RecordError(
                    f"block {target} ({confirmations} confirmations of the last step) not "
                    f"reached in {timeout:.0f} s"
                )
            time.sleep(1)

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        os.replace(tmp, self.path)

    # -- resuming --------------------------------------------------------------------------

    def _settle_pending(self, provider: Any) -> None:
        pending = self.data.get("pending")
        if not pending:
            return
        key, nonce, tx = pending["step"], pending["nonce"], pending.get("tx")
        mined = self._mined(provider, tx)
        if mined is not None and int(mined["status"]) == 0:
            self.log(f"step {key}: its transaction {tx} reverted; it will be sent again")
            self._failed(pending)
            return
        if mined is not None:
            receipt = provider.get_receipt(tx)
            self.log(f"step {key}: its transaction {tx} was mined while the deploy was stopped")
            self._record(key, "settled after a stop", None, pending["from"], nonce, receipt)
            return
        used = int(provider.get_nonce(pending["from"]))
        if used > nonce:
            raise RecordError(
                f"step {key}: nonce {nonce} of {pending['from']} was used by a transaction that "
                f"is not the one recorded ({tx}): check the account's transactions before resuming"
            )
        self.log(f"step {key}: its transaction {tx} was never mined; sending it again")
        self.data.pop("pending")
        self._write()

    def _check_code(self, provider: Any, source: Path) -> None:
        missing = [
            f"{s['step']} {s['address']}"
            for s in self.data["steps"]
            if s.get("address") and not provider.get_code(to_checksum_address(s["address"]))
        ]
        if missing:
            raise RecordError(
                f"{source}: no contract code at " + ", ".join(missing) + " (a record of another "
                "chain, or blocks that were reorganised away): move the record away to deploy anew"
            )

    def _check_nonce(self, provider: Any, source: Path) -> None:
        deployer = self.data["deployer"]
        spent = self.data["steps"] + self.data.get("failed", [])
        mine = [s["nonce"] for s in spent if s.get("from") == deployer]
        if not mine:
            return
        expected = max(mine) + 1
        actual = int(provider.get_nonce(deployer))
        if actual != expected:
            raise RecordError(
                f"{source}: the deployer {deployer} has sent {actual - expected} transaction(s) "
                f"since the last recorded step (nonce {actual}, the record expects {expected}): "
                "check them before resuming"
            )


def load_record(path: Path) -> dict[str, Any]:
    """The record at ``path``, read as the keeper reads it (keepers.tx.contracts.read_record):
    RecordError when it is not a JSON object, which no deploy resumes."""
    try:
        return read_record(path)
    except DeploymentError as e:
        raise RecordError(f"{e}: move it away to deploy anew") from None


def check_resumable(data: dict[str, Any], header: dict[str, Any], source: Path) -> None:
    """Refuses a record that this deploy must not continue, with what to do instead."""
    if "steps" not in data or data.get("version") != RECORD_VERSION:
        raise RecordError(
            f"{source}: a record without resumable steps (written by an older deploy): "
            "move it away to deploy anew"
        )
    if data.get("chain_id") != header["chain_id"]:
        raise RecordError(
            f"{source} was written on chain {data.get('chain_id')}, connected to chain "
            f"{header['chain_id']} ({header['network']}): a record of another chain is never "
            "resumed; move it away to deploy anew"
        )
    if data.get("profile_hash") != header["profile_hash"]:
        raise RecordError(
            f"{source} was written from another profile ({data.get('profile')}, hash "
            f"{str(data.get('profile_hash'))[:12]}...; this one {header['profile_hash'][:12]}...):"
            " resume with the profile it was started with, or move the record away"
        )
    if str(data.get("deployer")).lower() != str(header["deployer"]).lower():
        raise RecordError(
            f"{source} was written by deployer {data.get('deployer')}, not {header['deployer']}:"
            " resume with the same --account"
        )
    if data.get("complete"):
        raise RecordError(
            f"{source}: this deploy is complete (vault {data.get('vault')}); move the record "
            "away to deploy a new fund"
        )


def _bind(container: Any, address: str) -> Any:
    """The contract at ``address`` with ``container``'s ABI. Not ``container.at``: ape answers
    that from its address cache, so an address that held another contract earlier in the same
    process (a chain reverted to a snapshot, as between tests) came back with the old ABI, and a
    resumed deploy called the wrong functions."""
    from ape.contracts import ContractInstance

    return ContractInstance(to_checksum_address(address), container.contract_type)
