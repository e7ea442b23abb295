"""Importing a web page without becoming a proxy into the server's own network (SSRF).

Every address, the first and each redirect hop, is resolved here and refused when any of its IPs
is private, loopback, link-local, multicast, reserved, unspecified or otherwise not globally
routable (``settings.KNOWLEDGE_URL_ALLOW_PRIVATE`` lifts that, for tests and intranets). The
connection then goes to the very IP that was checked (the Host header and TLS name stay the
host's), so a DNS answer that changes between the check and the connect (rebinding) cannot steer
it elsewhere. Redirects are followed by hand (at most 5), and the whole fetch is capped in time
(``KNOWLEDGE_URL_TIMEOUT_SECONDS``) and size (``KNOWLEDGE_URL_MAX_BYTES``).
"""
from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from .chunking import clean_text
from .extraction import ExtractionError, decode_text, file_text, html_text

MAX_REDIRECTS = 5
USER_AGENT = "Mozilla/5.0 (compatible; KnowledgeImporter/1.0)"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The page could not be imported; the message is readable by the tenant's staff."""


class UrlRefused(FetchError):
    """The address itself is not allowed (scheme, unresolvable host, private network)."""


def address_is_public(ip: IP) -> bool:
    """True for globally routable unicast addresses only (IPv4 inside IPv6 is unwrapped)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.teredo is not None:
            return False
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified):
        return False
    return ip.is_global


def system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path + query, what goes on the request line
    ip: str  # the checked address we connect to


def check_url(url: str, *, resolver: Callable[[str, int], list[str]] | None = None,
              address_allowed: Callable[[IP], bool] | None = None) -> Target:
    """Parse, resolve and vet ``url``; UrlRefused (readable) when it may not be fetched."""
    url = (url or "").strip()
    if not url or len(url) > 1000:
        raise UrlRefused(_("Enter a valid web address."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(_("Enter a valid web address.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused(_("Only http:// and https:// addresses can be imported."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused(_("Enter a valid web address."))
    try:
        host.encode("idna")
    except UnicodeError:
        raise UrlRefused(_("Enter a valid web address.")) from None
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = (resolver or system_resolver)(host, port)
    except (OSError, UnicodeError):
        addresses = []
    ips: list[IP] = []
    for address in addresses:
        try:
            ips.append(ipaddress.ip_address(str(address).split("%", 1)[0]))
        except ValueError:
            continue
    if not ips:
        raise UrlRefused(_("The address %(host)s could not be found.") % {"host": host})
    if address_allowed is None:
        allow_private = settings.KNOWLEDGE_URL_ALLOW_PRIVATE
        address_allowed = lambda ip: allow_private or address_is_public(ip)  # noqa: E731
    # Every address the name resolves to must be allowed: a name with one public and one private
    # address could otherwise be steered to the private one.
    if not all(address_allowed(ip) for ip in ips):
        raise UrlRefused(_("This address points to a private or local network, which cannot be imported."))
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, ip=str(ips[0]))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked IP while the Host header names the host."""

    def __init__(self, host, port, *, ip, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked IP, verifying the certificate against the host name (SNI too)."""

    def __init__(self, host, port, *, ip, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(_("The page took too long to answer."))
    return left


def _get(target: Target, *, deadline: float, max_bytes: int) -> Response:
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = cls(target.host, target.port, ip=target.ip, timeout=_remaining(deadline))
    try:
        conn.request("GET", target.path, headers={
            "User-Agent": USER_AGENT, "Accept-Encoding": "identity",
            "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8,*/*;q=0.5",
            "Accept-Language": "pt-BR,pt;q=0.9,en;q=0.8,es;q=0.7",
        })
        response = conn.getresponse()
        if 300 <= response.status < 400:
            return Response(response.status, response.headers, b"")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(_("The page is too large to import."))
        chunks, size = [], 0
        while True:
            conn.sock.settimeout(_remaining(deadline))  # a slow trickle cannot outlast the deadline
            piece = response.read1(64 * 1024)  # returns after one receive: the deadline is checked often
            if not piece:
                break
            size += len(piece)
            if size > max_bytes:
                raise FetchError(_("The page is too large to import."))
            chunks.append(piece)
        body = b"".join(chunks)
        encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):  # sent although we asked for identity
            body = _inflate(body, encoding, max_bytes)
        return Response(response.status, response.headers, body)
    except FetchError:
        raise
    except (TimeoutError, socket.timeout):
        raise FetchError(_("The page took too long to answer.")) from None
    except ssl.SSLError:
        raise FetchError(_("The site's security certificate could not be verified.")) from None
    except (http.client.HTTPException, ValueError):
        raise FetchError(_("The site sent an invalid answer.")) from None
    except OSError:
        raise FetchError(_("Could not connect to the site.")) from None
    finally:
        conn.close()


def _inflate(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Decompress with the same size cap as the download (a small gzip can inflate to gigabytes)."""
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise FetchError(_("The site sent an invalid answer.")) from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise FetchError(_("The page is too large to import."))
    return data


@dataclass
class FetchedPage:
    url: str  # after redirects
    title: str
    text: str


def _charset(content_type: str, body: bytes) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    if not match:
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.I)
        if match:
            return match.group(1).decode("ascii", "ignore")
        return None
    return match.group(1)


def _decode(body: bytes, charset: str | None) -> str:
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    text = decode_text(body.replace(b"\x00", b""))
    return text if text is not None else body.decode("utf-8", errors="replace")


def _page(url: str, response: Response) -> FetchedPage:
    content_type = response.headers.get("Content-Type", "") or ""
    mime = content_type.split(";", 1)[0].strip().lower()
    body = response.body
    fallback_title = (urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or urlsplit(url).hostname or url)[:200]
    if mime in ("text/html", "application/xhtml+xml") or (not mime and b"<html" in body[:2048].lower()):
        title, text = html_text(_decode(body, _charset(content_type, body)))
        title = title or fallback_title
    elif mime.startswith("text/"):
        title, text = fallback_title, clean_text(_decode(body, _charset(content_type, b"")))
    else:  # a PDF or DOCX behind a link: the same sniffing as uploads
        try:
            text, _mime = file_text(body, name=fallback_title)
        except ExtractionError:
            raise FetchError(_("This address does not return a web page or a document that can be read "
                               "(it returned %(type)s).") % {"type": mime or _("an unknown type")}) from None
        title = fallback_title
    if not text.strip():
        raise FetchError(_("No text was found on the page."))
    return FetchedPage(url=url, title=title, text=text)


def fetch_url(url: str, *, resolver: Callable[[str, int], list[str]] | None = None,
              address_allowed: Callable[[IP], bool] | None = None, timeout: float | None = None,
              max_bytes: int | None = None, max_redirects: int = MAX_REDIRECTS) -> FetchedPage:
    """Fetch ``url`` (re-checking every redirect hop) and extract its main text; FetchError
    (readable) on any failure. ``resolver`` and ``address_allowed`` exist for tests."""
    timeout = float(timeout if timeout is not None else settings.KNOWLEDGE_URL_TIMEOUT_SECONDS)
    max_bytes = int(max_bytes if max_bytes is not None else settings.KNOWLEDGE_URL_MAX_BYTES)
    deadline = time.monotonic() + timeout
    for _hop in range(max_redirects + 1):
        target = check_url(url, resolver=resolver, address_allowed=address_allowed)
        response = _get(target, deadline=deadline, max_bytes=max_bytes)
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers.get("Location")
            if not location:
                raise FetchError(_("The site sent an invalid answer."))
            url = urljoin(target.url, location.strip())
            continue
        if response.status >= 400 or response.status < 200:
            raise FetchError(_("The page answered with an error (HTTP %(status)s).") % {"status": response.status})
        return _page(target.url, response)
    raise FetchError(_("The page redirects too many times."))
