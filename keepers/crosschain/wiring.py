"""Adapters from the config: the `AdapterFactory` that `router.dispatch` asks for each
(route, asset, source, dest). A route whose contracts or services are not configured for a
pair gets no adapter (None), which `dispatch` records as skipped and falls back from.

What each route needs (per chain, in the cross-chain config):
- CCTP:  cctp_domain, cctp_token_messenger, cctp_message_transmitter, and an
  `AttestationSource` (Circle's Iris live, `LocalAttestations` on local chains).
- USDT0: lz_endpoint_id, lz_endpoint, usdt0_oft; verification by the DVNs live (or a
  `PacketVerifier` per destination on local chains, see lz_local).
- CEX:   a ccxt exchange whose id is `cex_exchange`, and each chain's `exchange_network`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web3 import Web3

from keepers.crosschain.cex import CexRoute, CexSide
from keepers.crosschain.config import Asset, CrosschainConfig, RouteName
from keepers.crosschain.router import AdapterFactory
from keepers.crosschain.routes import (
    AttestationSource,
    CctpEndpoint,
    CctpRoute,
    RouteAdapter,
    TxSender,
)
from keepers.crosschain.usdt0 import DvnVerification, OftEndpoint, PacketVerifier, Usdt0Route
from keepers.tx.simulation import Simulator


def adapter_factory(
    config: CrosschainConfig,
    w3s: Mapping[str, Web3],
    sender: TxSender,
    owner: str,
    *,
    exchange: Any | None = None,
    attestations: AttestationSource | None = None,
    lz_verifiers: Mapping[str, PacketVerifier] | None = None,
    lz_extra_options: bytes = b"",
    simulators: Mapping[str, Simulator] | None = None,
) -> AdapterFactory:
    """Build adapters on demand from `config` and one web3 per chain name; `simulators` (per
    chain name, KEEPER_SIMULATOR's choice) check a CCTP receiveMessage or a USDT0 lzReceive on
    the destination before it is sent."""
    sims = simulators if simulators is not None else {}  # filled as chains first answer
    if exchange is not None and exchange.id != config.cex_exchange:
        raise ValueError(f"exchange {exchange.id!r} is not cex_exchange {config.cex_exchange!r}")
    verifiers = dict(lz_verifiers or {})

    def cctp_side(name: str) -> CctpEndpoint | None:
        c = config.chain(name)
        usdc = c.tokens.get(Asset.USDC)
        if (
            c.cctp_domain is None
            or c.cctp_token_messenger is None
            or c.cctp_message_transmitter is None
            or usdc is None
        ):
            return None
        return CctpEndpoint(
            name,
            w3s[name],
            c.cctp_domain,
            c.cctp_token_messenger,
            c.cctp_message_transmitter,
            usdc.address,
        )

    def oft_side(name: str) -> OftEndpoint | None:
        c = config.chain(name)
        usdt = c.tokens.get(Asset.USDT)
        if c.lz_endpoint_id is None or c.lz_endpoint is None or c.usdt0_oft is None or usdt is None:
            return None
        return OftEndpoint(
            name, w3s[name], c.lz_endpoint_id, c.usdt0_oft, c.lz_endpoint, usdt.decimals
        )

    def cex_side(name: str, asset: Asset) -> CexSide | None:
        c = config.chain(name)
        token, network = c.tokens.get(asset), c.exchange_network
        if token is None or network is None:
            return None
        return CexSide(name, w3s[name], network, token.address, token.decimals)

    def factory(route: RouteName, asset: Asset, source: str, dest: str) -> RouteAdapter | None:
        if not (
            config.chain(source).supports(route, asset)
            and config.chain(dest).supports(route, asset)
        ):
            return None
        if source not in w3s or dest not in w3s:
            return None
        if route is RouteName.CCTP:
            src_c, dst_c = cctp_side(source), cctp_side(dest)
            if src_c is None or dst_c is None or attestations is None:
                return None
            return CctpRoute(src_c, dst_c, attestations, sender, owner, simulator=sims.get(dest))
        if route is RouteName.USDT0:
            src_o, dst_o = oft_side(source), oft_side(dest)
            if src_o is None or dst_o is None:
                return None
            verifier = verifiers.get(dest) or DvnVerification(dst_o)
            return Usdt0Route(
                src_o,
                dst_o,
                verifier,
                sender,
                owner,
                lz_extra_options,
                simulator=sims.get(dest),
            )
        if route is RouteName.CEX:
            src_x, dst_x = cex_side(source, asset), cex_side(dest, asset)
            if src_x is None or dst_x is None or exchange is None:
                return None
            return CexRoute(exchange, asset.value, src_x, dst_x, sender, owner)
        return None

    return factory
