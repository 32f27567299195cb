"""The address of the client behind a request, believing ``X-Forwarded-For`` only from configured proxies.

Rate limits count per client. A header any client can write is no identity: were ``X-Forwarded-For`` always
believed, rotating it would reset every limit. So the TCP peer is the client, unless the peer is one of
``OMBUD_TRUSTED_PROXIES`` (the gateway's addresses): then the header is read from the right — each trusted proxy
appended the address it got the request from — and the first address that is not a trusted proxy is the client.
uvicorn runs with ``proxy_headers=False`` (services/system.py), so the peer is never rewritten before this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """``OMBUD_TRUSTED_PROXIES`` as networks (an address alone is a /32 or /128); a typo fails loudly."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    """Whether ``address`` belongs to one of the trusted proxies' networks (not an address: no)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The client's address: the peer, or — behind trusted proxies — the first untrusted hop of X-Forwarded-For."""
    peer = request.client.host if request.client else UNKNOWN
    settings = getattr(request.app.state, "settings", None)
    networks = trusted_networks(tuple(getattr(settings, "trusted_proxies", ()) or ()))
    if not networks or not is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not is_trusted(hop, networks):
            # An address, or garbage from a client that our proxy passed on: either way the hop it came from.
            return _normalised(hop)
    # Every hop is a proxy of ours (or there is no header): the request started at the last of them.
    return _normalised(hops[0]) if hops else peer


def _normalised(hop: str) -> str:
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return hop[:64]  # not an address: still a key for counting, bounded in size
