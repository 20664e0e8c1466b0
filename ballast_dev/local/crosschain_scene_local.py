"""LOCAL CHAINS ONLY: several anvil chains with USDC over CCTP stand-ins, USDT over USDT0
(real LayerZero EndpointV2 + SimpleMessageLib), a Binance simulator for the CEX route, one
transaction pipeline per chain in one store, and a `CrosschainBot` wired to all of it.

Used by tests/offchain/crosschain/test_moves_*.py and scripts/demo_crosschain.py. Contracts
come from the compiled artifacts (.build/__local__.json, `ape compile`). Off-chain actors are
explicit so tests can delay or duplicate them: `GatedAttestations` (Circle's attestation
service, releasable per burn) and `dvn()` (LayerZero verification, from a DVN account that is
not the keeper). Never used against a live network.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3

from ballast_dev.local.anvil_local import ANVIL_KEYS, BUILD_MANIFEST, contract_type, start_anvil
from ballast_dev.local.cex_sim_local import BinanceSim, SimCoin, SimNetwork, make_sim_exchange
from ballast_dev.local.lz_local import LocalLz, LocalLzVerifier, deploy_local_lz
from keepers.core.approval import ApprovalPolicy
from keepers.core.settings import KeeperSettings, PolicyConfig
from keepers.crosschain.bot import CrosschainBot, crosschain_policy
from keepers.crosschain.cctp import Attested, LocalCctpAttester, address_to_bytes32
from keepers.crosschain.config import CrosschainConfig, parse_config
from keepers.crosschain.moves import ChainDriver, MoveEngine
from keepers.crosschain.routes import LocalAttestations, RouteHandle, Web3Sender
from keepers.crosschain.usdt0 import LOCAL_LZ_RECEIVE_GAS, OftEndpoint, lz_receive_options
from keepers.crosschain.wiring import adapter_factory
from keepers.store.db import Store
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.signers import RawKeySigner

ARTIFACTS = BUILD_MANIFEST
# anvil's default mnemonic: account 2 is the keeper, 8 the DVN/relayer, 9 the exchange hot wallet
KEEPER_KEY = ANVIL_KEYS[2]
KEEPER = Account.from_key(KEEPER_KEY).address


@dataclass(frozen=True)
class ChainSpec:
    name: str
    chain_id: int
    usdc_decimals: int | None  # None: no USDC here
    usdt_decimals: int | None
    cctp_domain: int | None = None
    lz_eid: int | None = None
    cex_network: str | None = None  # the simulator's network id (ETH, BSC...)
    usdt_adapter: bool = False  # USDT locked in an OFT adapter (Ethereum) vs USDT0 minted
    usdc_base: str = "1000"
    usdt_base: str = "1000"


def account(w3: Web3, index: int) -> str:
    """Anvil's unlocked account `index`."""
    return str(list(w3.eth.accounts)[index])


def start_chain(chain_id: int) -> tuple[subprocess.Popen[bytes], str]:
    """One anvil of the scene: 30 accounts (one inventory holder per test on the shared scene,
    tests/support/movelib.py) and a 60M block gas limit."""
    return start_anvil("--accounts", "30", "--gas-limit", "60000000", chain_id=chain_id)


def deploy(w3: Web3, name: str, sender: str, *args: Any) -> Any:
    ct = contract_type(name)
    factory = w3.eth.contract(abi=ct["abi"], bytecode=ct["deploymentBytecode"]["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": sender, "gas": 12_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} reverted")
    return w3.eth.contract(address=receipt["contractAddress"], abi=ct["abi"])


def transact(w3: Web3, call: Any, sender: str, value: int = 0) -> Any:
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "value": value}))
    if receipt["status"] != 1:
        raise RuntimeError(f"{call.fn_name} reverted")
    return receipt


class GatedAttestations:
    """Circle's attestation service with a delay: nothing is attested until `release` (all,
    or one burn tx) — the 'attestation delay' fault."""

    def __init__(self, attester: LocalCctpAttester) -> None:
        self.inner = LocalAttestations(attester)
        self.open = True
        self.released: set[bytes] = set()

    def fetch(self, handle: RouteHandle) -> Attested | None:
        if not self.open and handle.tx_hash not in self.released:
            return None
        return self.inner.fetch(handle)


@dataclass
class Side:
    spec: ChainSpec
    proc: subprocess.Popen[bytes]
    url: str
    w3: Web3
    usdc: Any = None
    usdt: Any = None  # the ERC-20 holding USDT on this chain (the USDT0 OFT on non-adapter)
    oft: Any = None
    lz: LocalLz | None = None
    transmitter: Any = None
    messenger: Any = None

    @property
    def owner(self) -> str:
        return str(self.w3.eth.accounts[0])


@dataclass
class Scene:
    sides: dict[str, Side]
    config: CrosschainConfig
    attestations: GatedAttestations
    sim: BinanceSim | None
    db_url: str
    holders: dict[str, str] = field(default_factory=dict)
    stores: list[Store] = field(default_factory=list)

    # ------------------------------------------------------------------ keeper side

    def settings(self, **overrides: Any) -> KeeperSettings:
        kw: dict[str, Any] = dict(
            db_url=self.db_url,
            signer_key=KEEPER_KEY,
            policy=crosschain_policy(self.config),
            artifacts_path=ARTIFACTS,
            log_level="WARNING",
            retry_backoff_s=0.05,
            confirmations_by_chain={s.spec.chain_id: 1 for s in self.sides.values()},
        )
        kw.update(overrides)
        return KeeperSettings(**kw)

    def w3s(self) -> dict[str, Web3]:
        return {n: s.w3 for n, s in self.sides.items()}

    def bot(
        self,
        holders: dict[str, str] | None = None,
        policy: PolicyConfig | None = None,
        **engine_kw: Any,
    ) -> CrosschainBot:
        """A fresh bot (a new 'process'): new store handle, pipelines, engine, on the same DB."""
        settings = self.settings(**({"policy": policy} if policy is not None else {}))
        store = Store(self.db_url)
        self.stores.append(store)
        signer = RawKeySigner(KEEPER_KEY)
        drivers = {}
        for name, side in self.sides.items():
            pipe = Pipeline(store, Node(side.url), [signer], settings, crash=lambda *a: None)
            drivers[name] = ChainDriver(pipe)
        w3s = self.w3s()
        dvn_sender = Web3Sender(self.dvn_account)
        verifiers = {
            n: LocalLzVerifier(self.oft_side(n), s.lz.lib, dvn_sender)
            for n, s in self.sides.items()
            if s.lz is not None
        }
        exchange = make_sim_exchange(self.sim) if self.sim is not None else None

        def builder(sender: Any) -> Any:
            return adapter_factory(
                self.config,
                w3s,
                sender,
                KEEPER,
                exchange=exchange,
                attestations=self.attestations,
                lz_verifiers=verifiers,
                lz_extra_options=lz_receive_options(LOCAL_LZ_RECEIVE_GAS),
            )

        engine_kw.setdefault("step_timeout_s", 30.0)
        engine_kw.setdefault("poll_interval_s", 0.0)
        engine_kw.setdefault("retry_backoff_s", 0.05)
        engine_kw.setdefault("approval", ApprovalPolicy())
        engine = MoveEngine(
            store,
            self.config,
            w3s,
            drivers,
            KEEPER,
            builder,
            holders=self.holders if holders is None else holders,
            **engine_kw,
        )
        bot = CrosschainBot(self.config, engine, w3s, on_stop=store.close)
        bot.start()
        return bot

    @property
    def dvn_account(self) -> str:
        return account(next(iter(self.sides.values())).w3, 8)

    def oft_side(self, name: str) -> OftEndpoint:
        s = self.sides[name]
        assert s.lz is not None and s.oft is not None and s.spec.usdt_decimals is not None
        return OftEndpoint(name, s.w3, s.lz.eid, s.oft.address, s.lz.endpoint, s.spec.usdt_decimals)

    def dvn(self, dest: str, source: str | None = None) -> int:
        """LayerZero DVNs: verify every packet sent to `dest` that is not verified yet."""
        n = 0
        dst = self.oft_side(dest)
        verifier = LocalLzVerifier(dst, self.sides[dest].lz.lib, Web3Sender(self.dvn_account))  # type: ignore[union-attr]
        for name, side in self.sides.items():
            if name == dest or side.lz is None or (source and name != source):
                continue
            from ballast_dev.local.lz_local import LocalLzRelayer

            relayer = LocalLzRelayer(
                side.w3,
                side.lz.endpoint,
                dst,
                verifier,
                Web3Sender(self.dvn_account),
                self.dvn_account,
            )
            for packet in relayer.sent_packets():
                verifier.verify(packet)
                n += 1
        return n

    def relay(self, dest: str) -> dict[bytes, Any]:
        """A third-party executor delivering every packet to `dest` (duplicate relay)."""
        from ballast_dev.local.lz_local import LocalLzRelayer

        out: dict[bytes, Any] = {}
        dst = self.oft_side(dest)
        sender = Web3Sender(self.dvn_account)
        verifier = LocalLzVerifier(dst, self.sides[dest].lz.lib, sender)  # type: ignore[union-attr]
        for name, side in self.sides.items():
            if name == dest or side.lz is None:
                continue
            relayer = LocalLzRelayer(
                side.w3, side.lz.endpoint, dst, verifier, sender, self.dvn_account
            )
            out.update(relayer.relay())
        return out

    def balance(self, chain: str, asset: str, who: str) -> int:
        token = self.sides[chain].usdc if asset == "USDC" else self.sides[chain].usdt
        return int(token.functions.balanceOf(to_checksum_address(who)).call())

    def fund(self, chain: str, asset: str, who: str, human: str) -> None:
        """Mint `human` units to `who` (test money)."""
        side = self.sides[chain]
        dec = side.spec.usdc_decimals if asset == "USDC" else side.spec.usdt_decimals
        assert dec is not None
        units = int(Decimal(human).scaleb(dec))
        token = side.usdc if asset == "USDC" else side.usdt
        transact(side.w3, token.functions.mint(to_checksum_address(who), units), side.owner)

    def nonce(self, chain: str, who: str = KEEPER) -> int:
        return int(self.sides[chain].w3.eth.get_transaction_count(to_checksum_address(who)))

    def close(self) -> None:
        for store in self.stores:
            store.close()
        if self.sim is not None:
            self.sim.stop()
        for side in self.sides.values():
            side.proc.terminate()
            try:
                side.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                side.proc.kill()


THREE_CHAINS = (
    # ethereum: USDC 6 over CCTP, USDT 6 locked in a USDT0 adapter, the CEX
    ChainSpec(
        "ethereum",
        1,
        6,
        6,
        cctp_domain=0,
        lz_eid=30101,
        cex_network="ETH",
        usdt_adapter=True,
    ),
    ChainSpec("bsc", 56, None, 18, lz_eid=30102, cex_network="BSC"),  # USDT0 18, the CEX
    ChainSpec("base", 8453, 6, None, cctp_domain=6),  # USDC 6 over CCTP
)


def build_three_chain_scene(db_url: str) -> Scene:
    """The scene of `make demo-crosschain` and the cross-chain tests: `THREE_CHAINS`."""
    return build_scene(list(THREE_CHAINS), db_url)


def build_scene(
    specs: list[ChainSpec], db_url: str, *, trigger: str = "0.5", with_cex: bool = True
) -> Scene:
    """Start one anvil per spec, deploy and wire everything, return the scene."""
    sides: dict[str, Side] = {}
    try:
        for spec in specs:
            proc, url = start_chain(spec.chain_id)
            sides[spec.name] = Side(
                spec, proc, url, Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
            )
        attester = LocalCctpAttester(keccak(b"ballast local cctp attester"))
        eids = [s.lz_eid for s in specs if s.lz_eid is not None]
        for side in sides.values():
            sp, w3, owner = side.spec, side.w3, side.owner
            if sp.usdc_decimals is not None:
                side.usdc = deploy(
                    w3, "TestMintBurnStablecoin", owner, "USD Coin", "USDC", sp.usdc_decimals
                )
                if sp.cctp_domain is not None:
                    side.transmitter = deploy(
                        w3, "TestCctpMessageTransmitter", owner, sp.cctp_domain, 1, attester.address
                    )
                    side.messenger = deploy(
                        w3, "TestCctpTokenMessenger", owner, side.transmitter.address, 1, owner
                    )
            if sp.usdt_decimals is not None:
                if sp.lz_eid is not None:
                    side.lz = deploy_local_lz(
                        w3, sp.lz_eid, owner, [e for e in eids if e != sp.lz_eid]
                    )
                    if sp.usdt_adapter:
                        side.usdt = deploy(
                            w3, "TestStablecoin", owner, "Tether USD", "USDT", sp.usdt_decimals
                        )
                        side.oft = deploy(
                            w3,
                            "TestUsdt0OFTAdapter",
                            owner,
                            side.usdt.address,
                            side.lz.endpoint,
                            owner,
                        )
                    else:
                        if sp.usdt_decimals != 18:  # LayerZero's OFT is an 18-decimal ERC20
                            raise ValueError(
                                f"{sp.name}: usdt_decimals={sp.usdt_decimals}, the local USDT0 "
                                "OFT has 18"
                            )
                        side.oft = deploy(
                            w3, "TestUsdt0OFT", owner, "USDT0", "USDT0", side.lz.endpoint, owner
                        )
                        side.usdt = side.oft
                else:
                    side.usdt = deploy(
                        w3, "TestStablecoin", owner, "Tether USD", "USDT", sp.usdt_decimals
                    )
        for a in sides.values():  # wire peers
            for b in sides.values():
                if a is b:
                    continue
                if a.messenger is not None and b.messenger is not None:
                    dom = b.spec.cctp_domain
                    transact(
                        a.w3,
                        a.messenger.functions.addRemoteTokenMessenger(
                            dom, address_to_bytes32(b.messenger.address)
                        ),
                        a.owner,
                    )
                    transact(
                        a.w3,
                        a.messenger.functions.linkTokenPair(
                            a.usdc.address, dom, address_to_bytes32(b.usdc.address)
                        ),
                        a.owner,
                    )
                if a.oft is not None and b.oft is not None:
                    transact(
                        a.w3,
                        a.oft.functions.setPeer(b.spec.lz_eid, address_to_bytes32(b.oft.address)),
                        a.owner,
                    )
        sim = None
        if with_cex:
            nets = []
            for side in sides.values():
                if side.spec.cex_network is None:
                    continue
                hot = account(side.w3, 9)
                coins = {}
                for asset, token, dec in (
                    ("USDC", side.usdc, side.spec.usdc_decimals),
                    ("USDT", side.usdt, side.spec.usdt_decimals),
                ):
                    if token is None or dec is None:
                        continue
                    transact(side.w3, token.functions.mint(hot, 10_000_000 * 10**dec), side.owner)
                    coins[asset] = SimCoin(token.address, dec, Decimal("1"))
                deposit = "0x" + keccak(text=f"deposit:{side.spec.name}")[:20].hex()
                nets.append(
                    SimNetwork(
                        side.spec.cex_network, side.w3, to_checksum_address(deposit), hot, coins
                    )
                )
            sim = BinanceSim(nets).start() if nets else None
        doc = {
            "trigger_percentage": trigger,
            "cex_exchange": "binance",
            "chains": [_chain_doc(s) for s in sides.values()],
        }
        config = parse_config(doc)
        return Scene(sides, config, GatedAttestations(attester), sim, db_url)
    except BaseException:
        for side in sides.values():
            side.proc.kill()
        raise


def _chain_doc(side: Side) -> dict[str, Any]:
    sp = side.spec
    tokens, bases, routes = {}, {}, []
    if side.usdc is not None:
        tokens["USDC"] = {"address": side.usdc.address, "decimals": sp.usdc_decimals}
        bases["USDC"] = sp.usdc_base
    if side.usdt is not None:
        tokens["USDT"] = {"address": side.usdt.address, "decimals": sp.usdt_decimals}
        bases["USDT"] = sp.usdt_base
    doc: dict[str, Any] = {
        "name": sp.name,
        "rpc_url": side.url,
        "chain_id": sp.chain_id,
        "tokens": tokens,
        "base_balances": bases,
    }
    if side.messenger is not None:
        routes.append("CCTP")
        doc.update(
            cctp_domain=sp.cctp_domain,
            cctp_token_messenger=side.messenger.address,
            cctp_message_transmitter=side.transmitter.address,
        )
    if side.oft is not None:
        routes.append("USDT0")
        doc.update(
            lz_endpoint_id=sp.lz_eid,
            lz_endpoint=side.lz.endpoint,  # type: ignore[union-attr]
            usdt0_oft=side.oft.address,
        )
    if sp.cex_network is not None:
        routes.append("CEX")
    doc["routes"] = routes
    return doc
