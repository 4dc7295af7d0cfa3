"""Who may reach a server over the assistant: the rule the web chat (`ui.access`) and `rag serve` share.

A loopback address (127.0.0.0/8, ::1, ``localhost``) is reachable only from this machine, so a server
there may be open; any other address, or a host name (it may resolve to anything), is treated as
reachable from the network and needs a credential.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
