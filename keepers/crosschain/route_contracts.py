"""Route contracts per network: CCTP V2 (domain, TokenMessengerV2, MessageTransmitterV2, USDC)
and USDT0 (LayerZero endpoint id, EndpointV2, the OFT or OFT adapter, its token), one YAML
file per chain, validated at start-up and then checked against the chain itself.

Two checks, both refuse to start:

1. `load_route_files` (no I/O but the files): pydantic, errors name the field and the value.
   Addresses must be EIP-55 checksummed (a typo in a checksummed address is caught, an
   all-lowercase one is refused with the checksummed form in the message); on ``mainnet`` and
   ``testnet`` the CCTP domain must be Circle's for that chain id and the endpoint id in
   LayerZero's range (``mainnet``: the eid published for that chain id); no chain, domain,
   endpoint id or address twice.
2. `check_on_chain` reads every contract on its chain: code must be there, and each contract
   must say what the file says where it can tell: MessageTransmitterV2 ``localDomain()`` and
   ``version()``, TokenMessengerV2 ``localMessageTransmitter()`` and ``messageBodyVersion()``,
   EndpointV2 ``eid()``, the OFT's ``endpoint()``, ``token()`` and ``oftVersion()``. Every
   mismatch is listed in one `RouteContractsMismatch` (a `ConfigError`: exit 2).

`apply_routes` copies the files into the cross-chain config's chains (matched by chain id);
a value the config already has and the file contradicts is refused, never overwritten.
Example files with the published addresses: keepers/crosschain/networks/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from keepers import abis
from keepers.core.errors import ChainError
from keepers.core.settings import describe_validation_error
from keepers.crosschain.config import (
    Asset,
    ConfigError,
    CrosschainConfig,
    load_config,
    parse_config,
)
from keepers.crosschain.published import CCTP_DOMAINS_MAINNET, CCTP_DOMAINS_TESTNET, LZ_EIDS_MAINNET
from keepers.tx.contracts import contract_at

LZ_EID_RANGE = {"mainnet": range(30000, 40000), "testnet": range(40000, 50000)}
IOFT_INTERFACE_ID = "0x02e49c2c"  # type(IOFT).interfaceId, LayerZero oft-evm OFTCore
CCTP_V2_MESSAGE_VERSION = 1  # MessageV2 header version (Circle: "use 1 for CCTP" V2)
CCTP_V2_BODY_VERSION = 1  # BurnMessageV2 body version

Network = Literal["mainnet", "testnet", "custom"]


def _checksummed(v: str) -> str:
    if not isinstance(v, str) or len(v) != 42 or not v.startswith("0x"):
        raise ValueError(f"not an address: {v!r}")
    try:
        good = to_checksum_address(v)
    except ValueError:
        raise ValueError(f"not an address: {v!r}") from None
    if v != good:
        raise ValueError(f"address {v} is not EIP-55 checksummed (expected {good})")
    return v


Address = Annotated[str, AfterValidator(_checksummed)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CctpContracts(_Strict):
    domain: int = Field(ge=0, lt=2**32)
    token_messenger: Address
    message_transmitter: Address
    usdc: Address
    message_version: int = Field(default=CCTP_V2_MESSAGE_VERSION, ge=0, lt=2**32)
    message_body_version: int = Field(default=CCTP_V2_BODY_VERSION, ge=0, lt=2**32)


class Usdt0Contracts(_Strict):
    eid: int = Field(gt=0, lt=2**32)
    endpoint: Address
    oft: Address = Field(description="USDT0 OFT, or the OFT adapter where USDT is locked")
    token: Address = Field(description="the ERC-20 the OFT moves (its token())")
    oft_interface_id: str = Field(default=IOFT_INTERFACE_ID, pattern=r"^0x[0-9a-f]{8}$")
    oft_version: int | None = Field(
        default=None, ge=0, description="pin oftVersion()'s version; None: report it only"
    )


class ChainRoutes(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    chain_id: int = Field(gt=0)
    network: Network
    source: str = Field(default="", description="where the addresses come from")
    cctp: CctpContracts | None = None
    usdt0: Usdt0Contracts | None = None

    @model_validator(mode="after")
    def _known(self) -> ChainRoutes:
        if self.cctp is not None and self.network != "custom":
            table = CCTP_DOMAINS_MAINNET if self.network == "mainnet" else CCTP_DOMAINS_TESTNET
            want = table.get(self.chain_id)
            if want is None:
                raise ValueError(
                    f"cctp.domain: chain_id {self.chain_id} has no known CCTP domain on "
                    f"{self.network} (known: {sorted(table)}); check Circle's table"
                )
            if self.cctp.domain != want:
                raise ValueError(
                    f"cctp.domain={self.cctp.domain}: Circle's domain for chain_id "
                    f"{self.chain_id} is {want}"
                )
        if self.usdt0 is not None and self.network != "custom":
            eid = self.usdt0.eid
            if eid not in LZ_EID_RANGE[self.network]:
                raise ValueError(f"usdt0.eid={eid} is not a LayerZero {self.network} eid")
            want = LZ_EIDS_MAINNET.get(self.chain_id) if self.network == "mainnet" else eid
            if want is None:
                raise ValueError(
                    f"usdt0.eid={eid}: chain_id {self.chain_id} has no known LayerZero eid"
                )
            if eid != want:
                raise ValueError(
                    f"usdt0.eid={eid}: LayerZero's eid for chain_id {self.chain_id} is {want}"
                )
        seen: dict[str, str] = {}
        for label, addr in self.addresses():
            key = addr.lower()
            # one role per address, except that a native OFT is its own token
            if key in seen and {label, seen[key]} != {"usdt0.oft", "usdt0.token"}:
                raise ValueError(f"{label}={addr} is also {seen[key]}")
            seen[key] = label
        return self

    def addresses(self) -> list[tuple[str, str]]:
        out = []
        if self.cctp is not None:
            out += [
                ("cctp.token_messenger", self.cctp.token_messenger),
                ("cctp.message_transmitter", self.cctp.message_transmitter),
                ("cctp.usdc", self.cctp.usdc),
            ]
        if self.usdt0 is not None:
            out += [
                ("usdt0.endpoint", self.usdt0.endpoint),
                ("usdt0.oft", self.usdt0.oft),  # a native OFT is its own token
                ("usdt0.token", self.usdt0.token),
            ]
        return out


class RouteContracts(_Strict):
    chains: tuple[ChainRoutes, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicates(self) -> RouteContracts:
        for label, key in (
            ("name", lambda c: c.name),
            ("chain_id", lambda c: c.chain_id),
            ("cctp.domain", lambda c: c.cctp.domain if c.cctp else None),
            ("usdt0.eid", lambda c: c.usdt0.eid if c.usdt0 else None),
        ):
            seen: dict[Any, int] = {}
            for i, chain in enumerate(self.chains):
                value = key(chain)
                if value is None:
                    continue
                if value in seen:
                    j = seen[value]
                    raise ValueError(
                        f"chains.{i}.{label}={value!r} is also chains.{j} "
                        f"({self.chains[j].name}); each chain once"
                    )
                seen[value] = i
        return self

    def chain(self, chain_id: int) -> ChainRoutes | None:
        return next((c for c in self.chains if c.chain_id == chain_id), None)


class RouteContractsMismatch(ConfigError):  # noqa: N818 - a refusal to start, named as such
    """The chain does not hold what the route files say; `findings` lists each difference."""

    def __init__(self, findings: list[str]) -> None:
        super().__init__("route contracts do not match the chain:\n  " + "\n  ".join(findings))
        self.findings = findings


# ------------------------------------------------------------------ loading


def parse_routes(docs: Iterable[tuple[str, Mapping[str, Any]]]) -> RouteContracts:
    """Validate (label, document) pairs, one chain each; ConfigError names file, field, value."""
    docs = list(docs)
    labels = [label for label, _ in docs]

    def name(loc: tuple[Any, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "chains" and isinstance(loc[1], int):
            rest = ".".join(str(p) for p in loc[2:])
            return f"{labels[loc[1]]}:{rest}" if rest else labels[loc[1]]
        return ".".join(str(p) for p in loc)

    try:
        return RouteContracts.model_validate({"chains": [doc for _, doc in docs]})
    except ValidationError as err:
        text = describe_validation_error(err, name=name, root="route files")
        raise ConfigError("invalid route contracts:\n  " + text.replace("; ", "\n  ")) from None


def load_route_files(paths: Iterable[str | Path]) -> RouteContracts:
    docs = []
    files: list[Path] = []
    for path in paths:  # a directory stands for its *.yaml / *.yml files
        p = Path(path)
        files += sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
    for p in files:
        try:
            doc = yaml.safe_load(p.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read route file {p}: {err}") from None
        if not isinstance(doc, Mapping):
            raise ConfigError(f"route file {p} must be a mapping, got {type(doc).__name__}")
        docs.append((p.name, doc))
    if not docs:
        raise ConfigError("no route files given")
    return parse_routes(docs)


ENV_ROUTES = "BALLAST_CROSSCHAIN_ROUTES"


def load_with_routes(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[CrosschainConfig, RouteContracts | None]:
    """The cross-chain config with the route files of ``BALLAST_CROSSCHAIN_ROUTES`` (files or
    directories, ``os.pathsep``-separated) applied; the one loader of the bot and the worker."""
    import os

    from keepers.crosschain.config import crosschain_settings

    config = load_config(path, env)
    files = [p for p in (crosschain_settings(env).routes or "").split(os.pathsep) if p]
    if not files:
        return config, None
    pinned = load_route_files(files)
    return apply_routes(config, pinned), pinned


# what each route needs on every chain that names it, once the route files are applied
_ROUTE_NEEDS: dict[str, tuple[str, ...]] = {
    "CCTP": ("cctp_domain", "cctp_token_messenger", "cctp_message_transmitter"),
    "USDT0": ("lz_endpoint_id", "lz_endpoint", "usdt0_oft"),
}


def check_routes_wired(config: CrosschainConfig, routes_given: bool = False) -> None:
    """Refuse (ConfigError, exit 2) a route a chain names whose contracts are set neither in the
    config nor in a route file: the move would be created and then fail at run time with "no
    route". Each route and chain named with what is missing."""
    problems = []
    for i, chain in enumerate(config.chains):
        for route in chain.routes:
            missing = [f for f in _ROUTE_NEEDS.get(route.value, ()) if getattr(chain, f) is None]
            if missing:
                problems.append(
                    f"chains.{i} ({chain.name}, chain_id {chain.chain_id}): route {route.value} "
                    f"is named but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                    "not set"
                )
    if problems:
        where = (
            "no route file covers them"
            if routes_given
            else f"set them in the config or name route files in {ENV_ROUTES}"
        )
        raise ConfigError(f"routes without contracts ({where}):\n  " + "\n  ".join(problems))


def apply_routes(config: CrosschainConfig, routes: RouteContracts) -> CrosschainConfig:
    """The config with each chain's route contracts taken from the files (by chain id)."""
    doc = config.model_dump(mode="json", exclude_none=True)
    problems = []
    for i, chain in enumerate(doc["chains"]):
        r = routes.chain(chain["chain_id"])
        if r is None:
            continue
        fields: dict[str, Any] = {}
        tokens = {}
        if r.cctp is not None:
            fields.update(
                cctp_domain=r.cctp.domain,
                cctp_token_messenger=r.cctp.token_messenger,
                cctp_message_transmitter=r.cctp.message_transmitter,
            )
            tokens[Asset.USDC.value] = r.cctp.usdc
        if r.usdt0 is not None:
            fields.update(
                lz_endpoint_id=r.usdt0.eid, lz_endpoint=r.usdt0.endpoint, usdt0_oft=r.usdt0.oft
            )
            tokens[Asset.USDT.value] = r.usdt0.token
        for key, value in fields.items():
            have = chain.get(key)
            if have is not None and str(have).lower() != str(value).lower():
                problems.append(
                    f"chains.{i}.{key}={have!r}: the route file {r.name} says {value!r}"
                )
            chain[key] = value
        for asset, addr in tokens.items():
            token = chain.get("tokens", {}).get(asset)
            if token is not None and token["address"].lower() != addr.lower():
                problems.append(
                    f"chains.{i}.tokens.{asset}.address={token['address']}: the route file "
                    f"{r.name} says {addr}"
                )
    if problems:
        raise ConfigError(
            "route files disagree with the cross-chain config:\n  " + "\n  ".join(problems)
        )
    return parse_config(doc)


def routes_of_config(
    config: CrosschainConfig, pinned: RouteContracts | None = None
) -> RouteContracts | None:
    """What `check_on_chain` checks: the files' entries where given, else the contracts the
    config names (network ``custom``: no published table to hold them against)."""
    chains = []
    for c in config.chains:
        if pinned is not None and (r := pinned.chain(c.chain_id)) is not None:
            chains.append(r)
            continue
        doc: dict[str, Any] = {"name": c.name, "chain_id": c.chain_id, "network": "custom"}
        usdc, usdt = c.tokens.get(Asset.USDC), c.tokens.get(Asset.USDT)
        if (
            c.cctp_domain is not None
            and c.cctp_token_messenger
            and c.cctp_message_transmitter
            and usdc is not None
        ):
            doc["cctp"] = {
                "domain": c.cctp_domain,
                "token_messenger": to_checksum_address(c.cctp_token_messenger),
                "message_transmitter": to_checksum_address(c.cctp_message_transmitter),
                "usdc": to_checksum_address(usdc.address),
            }
        if c.lz_endpoint_id is not None and c.lz_endpoint and c.usdt0_oft and usdt is not None:
            doc["usdt0"] = {
                "eid": c.lz_endpoint_id,
                "endpoint": to_checksum_address(c.lz_endpoint),
                "oft": to_checksum_address(c.usdt0_oft),
                "token": to_checksum_address(usdt.address),
            }
        if "cctp" in doc or "usdt0" in doc:
            chains.append(ChainRoutes.model_validate(doc))
    return RouteContracts(chains=tuple(chains)) if chains else None


# ------------------------------------------------------------------ the chain


# The interface each labelled route contract is read through (contracts/interfaces/external).
_ABI_OF = {
    "cctp.message_transmitter": "ICctpMessageTransmitterV2",
    "cctp.token_messenger": "ICctpTokenMessengerV2",
    "usdt0.endpoint": "ILzEndpointV2",
    "usdt0.oft": "ILzOFT",
}


class ChainsUnreachable(ChainError):  # noqa: N818 - a state, named as such
    """Configured chains whose node does not answer (exit 3, not a configuration error):
    ``down`` maps each chain to one line, its URL shown without credentials, path or query."""

    def __init__(self, down: Mapping[str, str]) -> None:
        self.down = dict(down)
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.down.items()))


def unreachable(w3s: Mapping[str, Any]) -> dict[str, str]:
    """{chain: one line} for each chain (web3 per chain name) whose node does not answer."""
    from keepers.tx.node import shown_url

    down = {}
    for name, w3 in w3s.items():
        try:
            w3.eth.chain_id  # noqa: B018 - a probe
        except Exception as err:  # noqa: BLE001 - requests' and web3's transport errors alike
            url = shown_url(str(getattr(w3.provider, "endpoint_uri", "") or "?"))
            down[name] = f"rpc_url {url} unreachable ({type(err).__name__})"
    return down


def check_on_chain(routes: RouteContracts, w3s: Mapping[str, Any]) -> list[str]:
    """Read every route contract on its chain (web3 per chain *name*); return what was seen,
    or raise `RouteContractsMismatch` listing every difference (`ChainsUnreachable`, exit 3,
    when a chain's node does not answer at all)."""
    down = unreachable({r.name: w3s[r.name] for r in routes.chains if r.name in w3s})
    if down:
        raise ChainsUnreachable(down)
    seen: list[str] = []
    bad: list[str] = []
    for r in routes.chains:
        w3 = w3s.get(r.name)
        if w3 is None:
            bad.append(f"{r.name}: no RPC endpoint to check its route contracts")
            continue
        _ChainCheck(r, w3, seen, bad).run()
    if bad:
        raise RouteContractsMismatch(bad)
    return seen


class _ChainCheck:
    def __init__(self, r: ChainRoutes, w3: Any, seen: list[str], bad: list[str]) -> None:
        self.r, self.w3, self.seen, self.bad = r, w3, seen, bad

    def read(self, addr: str, fn: str, label: str) -> Any:
        c = contract_at(self.w3, addr, abis.load(_ABI_OF[label]))
        try:
            return getattr(c.functions, fn)().call()
        except Exception as err:  # noqa: BLE001 - revert, empty or undecodable answer
            self.bad.append(
                f"{self.r.name} {label}={addr}: does not answer {fn}() ({type(err).__name__})"
            )
            return None

    def expect(self, label: str, addr: str, fn: str, want: Any, got: Any = None) -> None:
        got = self.read(addr, fn, label) if got is None else got
        if got is None:
            return
        call = fn if "(" in fn else f"{fn}()"
        if str(got).lower() != str(want).lower():
            self.bad.append(f"{self.r.name} {label}={addr}: {call} is {got}, the file says {want}")
        else:
            self.seen.append(f"{self.r.name} {label} {call} = {got}")

    def run(self) -> None:
        r, w3 = self.r, self.w3
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as err:  # noqa: BLE001 - any transport failure is a refusal here
            self.bad.append(f"{r.name}: cannot read the chain id ({type(err).__name__})")
            return
        if chain_id != r.chain_id:
            self.bad.append(f"{r.name}: chain_id={r.chain_id} but the RPC serves chain {chain_id}")
            return
        missing = set()
        for label, addr in r.addresses():
            if not bytes(w3.eth.get_code(addr)):
                self.bad.append(f"{r.name} {label}={addr}: no contract code on chain {chain_id}")
                missing.add(addr)
        if r.cctp is not None:
            mt, tm = r.cctp.message_transmitter, r.cctp.token_messenger
            if mt not in missing:
                self.expect("cctp.message_transmitter", mt, "localDomain", r.cctp.domain)
                self.expect("cctp.message_transmitter", mt, "version", r.cctp.message_version)
            if tm not in missing:
                self.expect("cctp.token_messenger", tm, "localMessageTransmitter", mt)
                self.expect(
                    "cctp.token_messenger", tm, "messageBodyVersion", r.cctp.message_body_version
                )
        if r.usdt0 is not None:
            u = r.usdt0
            if u.endpoint not in missing:
                self.expect("usdt0.endpoint", u.endpoint, "eid", u.eid)
            if u.oft not in missing:
                self.expect("usdt0.oft", u.oft, "endpoint", u.endpoint)
                self.expect("usdt0.oft", u.oft, "token", u.token)
                version = self.read(u.oft, "oftVersion", "usdt0.oft")
                if version is not None:
                    iid, ver = "0x" + bytes(version[0]).hex(), int(version[1])
                    fn = "oftVersion().interfaceId"
                    self.expect("usdt0.oft", u.oft, fn, u.oft_interface_id, got=iid)
                    if u.oft_version is not None:
                        fn = "oftVersion().version"
                        self.expect("usdt0.oft", u.oft, fn, u.oft_version, got=ver)
                    else:
                        self.seen.append(f"{r.name} usdt0.oft oftVersion().version = {ver}")
