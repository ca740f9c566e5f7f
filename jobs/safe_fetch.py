"""HTTP requests to URLs that come from outside: allow-listed hosts, public addresses, pinned, under a deadline.

Why each rule:
- Checking a name's addresses and then letting the HTTP client resolve the name again lets a rebinding DNS server
  answer "public" to the check and "127.0.0.1" to the connect. So a name is resolved once, every address is
  checked, and the connection goes to that very checked IP; the name is kept for the `Host` header and for TLS
  (SNI and certificate verification use the name, through httpcore's `sni_hostname`).
- An IPv6 address can carry an IPv4 one (NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, IPv4-mapped
  `::ffff:0:0/96`, IPv4-compatible `::/96`, Teredo): it is public only when the embedded IPv4 address is too.
- Per-operation timeouts do not bound a server that sends one byte just before each timeout; `Deadline` bounds the
  whole download, and every network wait is capped by the time left.
- Redirects are followed by hand, each hop checked and pinned like the first.
A private address passes only when the allow-list names that very IP (or `localhost`) itself — never through a
domain name, which could be re-pointed inside the network. Tests allow 127.0.0.1 this way.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

import httpx

MAX_REDIRECTS = 3
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class FetchRefused(ValueError):
    """A URL, address or response that must not be used; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (the default; tests pass their own)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, compatible, Teredo client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress) -> bool:
    """A globally reachable unicast address, also through any IPv4 address embedded in an IPv6 one."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    return True


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Target:
    """A checked URL and the one address it will be fetched from."""

    url: str
    host: str
    port: int
    address: str


def check_url(url: str, allowed: tuple[str, ...], resolve: Resolver = system_resolver) -> Target:
    """Scheme, allow-list and public addresses; returns the address to connect to. Raises FetchRefused."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FetchRefused(f"not an http(s) URL: {url[:80]}")
    host = parsed.hostname.lower()
    if not host_allowed(host, allowed):
        raise FetchRefused(f"host {host} is not on the allow-list")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _literal(host)
    addresses = [host] if literal is not None else resolve(host, port)
    if not addresses:
        raise FetchRefused(f"cannot resolve {host}")
    literal_ok = host in allowed and (host == "localhost" or literal is not None)
    for raw in addresses:
        address = ipaddress.ip_address(raw)
        if not is_public(address) and not literal_ok:
            raise FetchRefused(f"{host} resolves to a private address ({address})")
    return Target(url=url, host=host, port=port, address=addresses[0])


@dataclass
class Deadline:
    """An overall time limit; `left()` caps each network wait, `check()` refuses once it has passed."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = self.clock() + self.seconds

    def left(self) -> float:
        return self._end - self.clock()

    def check(self) -> None:
        if self.left() <= 0:
            raise FetchRefused(f"deadline of {self.seconds:g}s exceeded")

    def timeout(self, per_operation: float) -> httpx.Timeout:
        self.check()
        return httpx.Timeout(max(0.01, min(per_operation, self.left())))


class PinnedClient:
    """An httpx client whose every request goes to a checked, pinned address, with redirects checked by hand."""

    def __init__(
        self,
        allowed: tuple[str, ...],
        deadline: Deadline,
        *,
        timeout: float = 15.0,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.allowed = allowed
        self.deadline = deadline
        self.timeout = timeout
        self.resolve = resolve
        # trust_env=False: an environment proxy would connect by name and undo the pinning. No keep-alive: a pooled
        # connection is keyed by the pinned IP, and reusing one opened for another name would skip that name's SNI.
        self._client = httpx.Client(
            follow_redirects=False, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PinnedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, target: Target, headers: dict[str, str], content: bytes | None) -> httpx.Response:
        url = httpx.URL(target.url)
        default_port = 443 if url.scheme == "https" else 80
        pinned = url.copy_with(host=target.address)
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host:  # an IPv6 literal
            host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
        request = self._client.build_request(
            method,
            pinned,
            headers={**headers, "Host": host_header},
            content=content,
            timeout=self.deadline.timeout(self.timeout),
            extensions={"sni_hostname": target.host},
        )
        return self._client.send(request, stream=True)

    @contextmanager
    def stream(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None
    ) -> Iterator[httpx.Response]:
        """The final response (after checked redirects), streaming; read it with `iter_bytes` of this client."""
        response, _ = self.open(method, url, headers=headers, content=content)
        try:
            yield response
        finally:
            response.close()

    def open(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None
    ) -> tuple[httpx.Response, str]:
        """Like `stream` without the context manager: (the response, the URL it came from); the caller closes it."""
        for _ in range(MAX_REDIRECTS + 1):
            target = check_url(url, self.allowed, self.resolve)
            try:
                response = self._send(method, target, dict(headers or {}), content)
            except httpx.TimeoutException as exc:
                self.deadline.check()
                raise FetchRefused(f"download failed: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise FetchRefused(f"download failed: {type(exc).__name__}") from exc
            if not response.is_redirect:
                return response, url
            response.close()
            url = urljoin(url, response.headers.get("location", ""))
            if response.status_code in (301, 302, 303) and method == "POST":
                method, content = "GET", None
        raise FetchRefused("too many redirects")

    def iter_bytes(self, response: httpx.Response) -> Iterator[bytes]:
        """The body as it arrives (unbuffered, so the deadline is checked between reads: a drip cannot hold it)."""
        try:
            for piece in response.iter_bytes():
                self.deadline.check()
                yield piece
        except httpx.TimeoutException as exc:
            self.deadline.check()
            raise FetchRefused(f"download failed: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise FetchRefused(f"download failed: {type(exc).__name__}") from exc
