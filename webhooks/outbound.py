"""Outbound HTTP for webhooks, with the safety a service that calls user-given URLs needs.

- http(s) only, a host name or address, no credentials in the URL;
- every address the host resolves to is checked, at subscription time and before every attempt:
  private, loopback, link-local, reserved, multicast and unspecified ranges are refused unless
  `WEBHOOK_ALLOW_PRIVATE` is on (development, tests against a local receiver);
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


def _blocked(address) -> bool:
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, *, resolve: bool = True) -> None:
    """UnsafeURL unless `url` is one we may POST to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL needs a host.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not allowed; use the signature to authenticate us.")
    if not resolve or settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.") from None
    for info in infos:
        if _blocked(info[4][0]):
            raise UnsafeURL(f"{parts.hostname} resolves to {info[4][0]}, a private, loopback or link-local address "
                            "(set WEBHOOK_ALLOW_PRIVATE to allow it).")


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
