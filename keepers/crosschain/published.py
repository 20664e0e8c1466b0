"""The published identifiers of the chains the keeper knows: Circle's CCTP domains and
LayerZero V2's endpoint ids, per chain id. The config (keepers.crosschain.config) holds a
chain's ``cctp_domain`` and ``lz_endpoint_id`` against them whether or not route files are
given; the route files (keepers.crosschain.route_contracts) do too, by network."""

from __future__ import annotations

# Circle, "CCTP supported blockchains and domains" / "EVM smart contracts" (mainnet and the
# matching testnets share the domain): chain id -> CCTP domain.
CCTP_DOMAINS_MAINNET: dict[int, int] = {
    1: 0,  # Ethereum
    43114: 1,  # Avalanche C-Chain
    10: 2,  # OP Mainnet
    42161: 3,  # Arbitrum One
    8453: 6,  # Base
    137: 7,  # Polygon PoS
    130: 10,  # Unichain
    59144: 11,  # Linea
}
CCTP_DOMAINS_TESTNET: dict[int, int] = {
    11155111: 0,  # Ethereum Sepolia
    43113: 1,  # Avalanche Fuji
    11155420: 2,  # OP Sepolia
    421614: 3,  # Arbitrum Sepolia
    84532: 6,  # Base Sepolia
    80002: 7,  # Polygon Amoy
}
# LayerZero V2 "Deployed contracts": chain id -> endpoint id (30xxx mainnet, 40xxx testnet).
LZ_EIDS_MAINNET: dict[int, int] = {
    1: 30101,  # Ethereum
    56: 30102,  # BNB Chain
    43114: 30106,  # Avalanche
    137: 30109,  # Polygon
    42161: 30110,  # Arbitrum One
    10: 30111,  # Optimism
    59144: 30183,  # Linea
    8453: 30184,  # Base
}


def published_cctp_domain(chain_id: int) -> int | None:
    """Circle's CCTP domain for ``chain_id`` (mainnet or testnet), None when unknown."""
    return CCTP_DOMAINS_MAINNET.get(chain_id, CCTP_DOMAINS_TESTNET.get(chain_id))


def published_lz_eid(chain_id: int) -> int | None:
    """LayerZero's mainnet endpoint id for ``chain_id``, None when unknown."""
    return LZ_EIDS_MAINNET.get(chain_id)
