"""Outbound HTTP for webhooks, with the safety a service that calls user-given URLs needs.

- http(s) only, a host name or address, no credentials in the URL;
- every address the host resolves to is checked, at subscription time and before every attempt:
  private, loopback, link-local, site-local, reserved, multicast and unspecified ranges are refused,
  and so is an IPv6 address that carries one of those IPv4 addresses inside it (IPv4-mapped,
  IPv4-compatible, NAT64, 6to4, Teredo: a packet to it ends up at that IPv4 address);
- only the ports of `WEBHOOK_ALLOWED_PORTS` (80 and 443 by default; a URL without a port uses its
  scheme's): any other port would let a subscription knock on services that are not web receivers;
- `WEBHOOK_ALLOW_PRIVATE` lifts the address and port checks both (development, tests against a local
  receiver, which listens on whatever port it was given);
- short connect/read timeouts, redirects never followed (a 3xx is a failed delivery), at most
  `RESPONSE_EXCERPT` characters of the answer kept.

The address is checked, then connected to by name: a DNS answer that changes between the two (DNS
rebinding) is not caught here; an egress proxy or firewall is the place for that (docs/api.md).
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

RESPONSE_EXCERPT = 1000
USER_AGENT = "CommandCentral-Webhooks/1"


class UnsafeURL(ValueError):
    """The URL may not be called (the message says why)."""


# RFC 6052's well-known NAT64 prefix: the IPv4 address is the last 32 bits, and a NAT64 gateway on the
# way translates the packet to it. RFC 8215's local-use prefix is refused whole: the operator of the
# translator decides where in it the IPv4 address sits, and it is never a public receiver.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated (RFC 4291), still routed to IPv4 by some stacks


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped, IPv4-compatible, NAT64, 6to4 and
    Teredo (its server and its client) forms; none for any other address."""
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _not_public(address) -> bool:
    # Python 3.11's is_global says yes to the deprecated site-local fec0::/10.
    return not address.is_global or address.is_multicast or getattr(address, "is_site_local", False)


def _blocked(address) -> bool:
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv4Address):
        return _not_public(address)
    if address in NAT64_LOCAL:
        return True
    if address.ipv4_mapped:  # ::ffff:a.b.c.d is how a dual-stack socket reaches a.b.c.d itself
        return _not_public(address.ipv4_mapped)
    # Both the IPv6 address and what it carries must be public: Teredo's prefix is not, whatever its
    # embedded addresses; 64:ff9b::7f00:1 and 2002:7f00:1:: are, but they lead to 127.0.0.1.
    return _not_public(address) or any(_not_public(inner) for inner in embedded_ipv4(address))


def _port(parts) -> int:
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # urllib's "Port out of range" or "could not be converted"
        raise UnsafeURL("The URL's port must be a number from 1 to 65535.") from None


def check_url(url: str, *, resolve: bool = True) -> None:
    """UnsafeURL unless `url` is one we may POST to. `resolve=False` skips the DNS look-up (and so the
    address checks of a host name)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL needs a host.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not allowed; use the signature to authenticate us.")
    port = _port(parts)
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    if resolve:
        _check_addresses(parts.hostname, port)
    if port not in settings.WEBHOOK_ALLOWED_PORTS:
        allowed = ", ".join(str(allowed) for allowed in settings.WEBHOOK_ALLOWED_PORTS) or "none"
        raise UnsafeURL(f"Port {port} cannot receive webhooks (allowed: {allowed}; set WEBHOOK_ALLOWED_PORTS "
                        "to allow others).")


def _check_addresses(hostname: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise UnsafeURL(f"The host {hostname!r} does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _blocked(address):
            inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else []
            leads_to = f" (that is {', '.join(map(str, inner))})" if inner else ""
            raise UnsafeURL(f"{hostname} resolves to {address}{leads_to}, a private, loopback or link-local "
                            "address (set WEBHOOK_ALLOW_PRIVATE to allow it).")


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: float
    response_excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict) -> Outcome:
    """POST once; never raises for the receiver's faults (they are the Outcome)."""
    started = time.perf_counter()
    try:
        check_url(url)
        response = requests.post(
            url, data=body, allow_redirects=False, stream=True,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        try:
            raw = response.raw.read(RESPONSE_EXCERPT * 4, decode_content=True) or b""
        finally:
            response.close()
        excerpt = raw.decode("utf-8", "replace")[:RESPONSE_EXCERPT]
        redirect = 300 <= response.status_code < 400
        error = f"redirect to {response.headers.get('Location', '?')[:200]} (not followed)" if redirect else ""
        return Outcome(response.status_code, _since(started), excerpt, error)
    except UnsafeURL as refused:
        return Outcome(None, _since(started), "", str(refused)[:500])
    except requests.RequestException as failure:
        return Outcome(None, _since(started), "", f"{type(failure).__name__}: {failure}"[:500])


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
