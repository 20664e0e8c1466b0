"""Reusable deployments of third-party contracts (real Uniswap V3 from npm) and portfolios."""
