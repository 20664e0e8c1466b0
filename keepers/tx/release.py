"""Which contract release a bot drives, checked at start-up against the release of its ABIs.

Every deployable Ballast contract answers ``RELEASE()`` (a bytes32 constant, ASCII "0.2.0");
contracts of 0.1.0 and before have no such view and read as ``LEGACY_RELEASE`` ("0.1.0 or
older"). A bot names the Ballast contracts it is configured for (the fund's controller, vault,
lens and executor; the executor's scheduler; the supervisor's scheduler, supervisor and
registry) and :func:`check_release` reads each:

- every one at the keeper's own release (``keepers.version.CONTRACTS_RELEASE``): nothing said;
- every one at a release this keeper still drives (``SUPPORTED_OLDER``): one log line per
  process and release, naming the features that are off there;
- anything else (a newer or unsupported release, or contracts that disagree with each other):
  :class:`ReleaseMismatchError`, a configuration error (exit 2) naming both releases and the
  upgrade page.

A contract that does not answer at all (no code, or not a Ballast contract) is left to the
bots' own start-up checks, which name it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from eth_typing import HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError

from keepers.core.logging import get_logger
from keepers.tx.contracts import ChainMismatchError
from keepers.version import (
    CONTRACTS_RELEASE,
    LEGACY_RELEASE,
    NOT_IN_OLDER,
    SUPPORTED_OLDER,
    UPGRADE_PAGE,
    __version__,
)

log = get_logger("keepers.release")

RELEASE_SELECTOR = HexStr("0x" + Web3.keccak(text="RELEASE()").hex().removeprefix("0x")[:8])


class ReleaseMismatchError(ChainMismatchError):
    """The contracts a bot is configured for belong to a release its ABIs do not (exit 2:
    a configuration error, caught wherever a chain mismatch is)."""


def decode_release(raw: bytes) -> str | None:
    """A ``RELEASE()`` answer (32 bytes, ASCII left-aligned) as text, or None when it is not
    one (empty, or not printable)."""
    if len(raw) != 32:
        return None
    text = raw.rstrip(b"\0")
    if not text or not all(0x20 < b < 0x7F for b in text):
        return None
    return text.decode()


def read_release(w3: Web3, address: str) -> str:
    """The release the contract at ``address`` says it belongs to, or LEGACY_RELEASE when it
    has no ``RELEASE()`` view (0.1.0 and before). The node's own failures propagate."""
    try:
        raw = w3.eth.call({"to": to_checksum_address(address), "data": RELEASE_SELECTOR})
    except ContractLogicError:  # reverted: no such function (0.1.0's contracts)
        return LEGACY_RELEASE
    return decode_release(bytes(raw)) or LEGACY_RELEASE


@dataclass(frozen=True)
class ReleaseCheck:
    """What :func:`check_release` found: the contracts' release (one for all), this keeper's,
    and the features off on the contracts' release (empty at the keeper's own)."""

    contracts: str
    keeper: str = CONTRACTS_RELEASE
    version: str = __version__
    off: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # the keys of ``off`` (keepers.version.NOT_IN_OLDER)

    @property
    def same(self) -> bool:
        return self.contracts == self.keeper

    def as_dict(self) -> dict[str, object]:
        return {
            "keeper_version": self.version,
            "abis_release": self.keeper,
            "contracts_release": self.contracts,
            "features_off": list(self.off),
            "not_in_these_contracts": list(self.absent),
        }


_said: set[tuple[str, str]] = set()
_said_lock = threading.Lock()


def mismatch_message(who: str, found: Mapping[str, str]) -> str:
    releases = sorted(set(found.values()))
    named = ", ".join(f"{label} {rel}" for label, rel in found.items())
    if len(releases) > 1:
        head = f"{who}: the contracts it is configured for belong to different releases ({named})"
    else:
        head = (
            f"{who}: the contracts it is configured for are release {releases[0]} ({named}); "
            f"this keeper (ballast-keepers {__version__}) carries the ABIs of release "
            f"{CONTRACTS_RELEASE}"
        )
    drives = ", ".join([CONTRACTS_RELEASE, *SUPPORTED_OLDER])
    return (
        f"{head}. It drives contracts of {drives}: install the keeper of the contracts' release, "
        f"or point it at a deployment of its own (see {UPGRADE_PAGE})"
    )


def check_release(w3: Web3, targets: Mapping[str, str | None], *, who: str) -> ReleaseCheck:
    """Read ``RELEASE()`` of every contract in ``targets`` (label -> address; None skipped)
    and judge it (module docstring). Raises ReleaseMismatchError; logs once per process and
    release the features that are off on an older release this keeper supports."""
    found = {label: read_release(w3, a) for label, a in targets.items() if a}
    if not found:
        return ReleaseCheck(CONTRACTS_RELEASE)
    releases = set(found.values())
    if len(releases) > 1:
        raise ReleaseMismatchError(mismatch_message(who, found))
    (release,) = releases
    if release == CONTRACTS_RELEASE:
        return ReleaseCheck(release)
    if release not in SUPPORTED_OLDER:
        raise ReleaseMismatchError(mismatch_message(who, found))
    # what the contracts this bot is configured for lack, each named once (not every bot's)
    lacks = [x for x in NOT_IN_OLDER.get(release, ()) if x[1] in found]
    off, absent = tuple(w for _k, _c, w in lacks), tuple(k for k, _c, _w in lacks)
    from keepers.runtime import metrics

    metrics.observe_absent(who, absent)
    with _said_lock:
        first = (who, release) not in _said
        _said.add((who, release))
    if first:
        log.warning(
            "keeper.older_contracts",
            bot=who,
            contracts_release=release,
            keeper_release=CONTRACTS_RELEASE,
            features_off=list(off),
            page=UPGRADE_PAGE,
        )
    return ReleaseCheck(release, off=off, absent=absent)


# ------------------------------------------------------------------ deployments


def deployment_id(chain_id: int | None, vault: str, release: str) -> str:
    """The deployment a plan is made for: the chain, the fund's vault and the contracts'
    release ("31337:0x5FbD...@0.2.0"). A contract release is a new deployment, so either a
    new vault or, when the new vault lands at the old address (another chain state, the same
    deployer's nonces), a new release tells the two apart."""
    chain = "?" if chain_id is None else str(int(chain_id))
    return f"{chain}:{to_checksum_address(vault)}@{release}"


def release_of(deployment: str) -> str:
    return deployment.rpartition("@")[2]


def other_deployment(recorded: str | None, current: str) -> str | None:
    """Why a plan recorded for ``recorded`` belongs to another deployment than ``current``
    (the one this keeper drives), or None when it is this one's. A plan with no deployment
    recorded was made by a keeper of 0.1.0 or older, which drove contracts of 0.1.0 or older:
    it is this deployment's only when these contracts are of that release too."""
    if recorded is None:
        if release_of(current) == LEGACY_RELEASE:
            return None
        return (
            f"made by a keeper of {LEGACY_RELEASE} for contracts of {LEGACY_RELEASE}; this "
            f"keeper drives deployment {current} (a contract release is a new deployment: "
            f"see {UPGRADE_PAGE})"
        )
    if recorded == current:
        return None
    return (
        f"made for deployment {recorded}; this keeper drives deployment {current} "
        f"(see {UPGRADE_PAGE})"
    )
