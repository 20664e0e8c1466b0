"""An RPC outage on demand (ballast_dev.local.rpc_proxy, shared with the hostile month)."""

from ballast_dev.local.rpc_proxy import RpcProxy

__all__ = ["RpcProxy"]
