"""Cross-chain USDC/USDT inventory (seeds 000 and 003): configuration and route adapters.

The matching itself is pure and lives in keepers.crosschain.planning.
"""
