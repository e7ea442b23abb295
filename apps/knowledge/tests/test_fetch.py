"""URL import: address checks (SSRF), redirects re-checked hop by hop, time and size caps, and
extraction, against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import ipaddress
import time

import pytest

from apps.knowledge.fetch import FetchError, UrlRefused, address_is_public, check_url, fetch_url

from .files import make_pdf, make_png


LOOPBACK = ipaddress.ip_address("127.0.0.1")


def only_the_test_server(ip) -> bool:
    """Treat the test server's loopback address as if it were public; every other address is
    judged by the real rule."""
    return ip == LOOPBACK or address_is_public(ip)


# --- address rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ip", [
    "127.0.0.1", "127.8.8.8", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "224.0.0.1", "100.64.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::", "64:ff9b::a00:1",
    "2001::1",  # Teredo
])
def test_private_local_and_special_addresses_are_not_public(ip):
    assert not address_is_public(ipaddress.ip_address(ip))


@pytest.mark.parametrize("ip", ["8.8.8.8", "200.147.67.142", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_global_addresses_are_public(ip):
    assert address_is_public(ipaddress.ip_address(ip))


def resolver(table):
    def resolve(host, port):
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]
    return resolve


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/file.txt", "Only http:// and https://"),
    ("javascript:alert(1)", "Only http:// and https://"),
    ("file:///etc/passwd", "Only http:// and https://"),
    ("http://", "valid web address"),
    ("http://example.com:99999/", "valid web address"),
    ("http://nowhere.invalid/", "could not be found"),
    ("http://intranet.shop/", "private or local network"),
    ("http://metadata.shop/latest/", "private or local network"),
    ("http://split.shop/", "private or local network"),  # one public and one private address
])
def test_check_url_refuses_bad_schemes_unknown_hosts_and_private_addresses(url, message, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False
    table = {"intranet.shop": ["10.1.2.3"], "metadata.shop": ["169.254.169.254"],
             "split.shop": ["200.147.67.142", "192.168.0.10"], "example.com": ["93.184.215.14"]}
    with pytest.raises(UrlRefused, match=message):
        check_url(url, resolver=resolver(table))


def test_check_url_accepts_a_public_host_and_remembers_the_address_it_checked(settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False
    target = check_url("https://Loja.Example.com/faq?x=1", resolver=resolver({"loja.example.com": ["93.184.215.14"]}))
    assert (target.scheme, target.host, target.port, target.path, target.ip) == (
        "https", "loja.example.com", 443, "/faq?x=1", "93.184.215.14")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8000/admin", "http://LOCALHOST./", "http://2130706433/",
    "http://0x7f.1/", "http://[::1]/", "http://10.0.0.8/", "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:5432/",
])
def test_loopback_and_private_literals_and_names_are_refused_with_the_system_resolver(url, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False
    with pytest.raises(UrlRefused, match="private or local network"):
        check_url(url)


def test_allow_private_setting_lets_local_addresses_through(settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    assert check_url("http://127.0.0.1:8000/x").ip == "127.0.0.1"


# --- fetching --------------------------------------------------------------------------------------

def test_fetches_a_page_and_extracts_title_and_main_text(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    page = fetch_url(f"{site.base}/page")
    assert page.title == "Entregas | Bom Sabor"
    assert "Entregamos em Jardim América e Vila Nova." in page.text
    assert "Menu" not in page.text


def test_connects_to_the_checked_address_and_keeps_the_host_name(site):
    # "loja.test" does not exist in DNS: the fetch can only succeed by connecting to the address
    # the check resolved (no second lookup an attacker could rebind), with the name in Host.
    port = site.server.server_address[1]
    page = fetch_url(f"http://loja.test:{port}/page", resolver=resolver({"loja.test": ["127.0.0.1"]}),
                     address_allowed=only_the_test_server)
    assert "Jardim América" in page.text
    assert site.requests[-1]["host"] == f"loja.test:{port}"


def test_redirects_are_followed_and_each_hop_is_checked(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    site.routes["/old"] = (301, {"Location": "/older"}, b"")
    site.routes["/older"] = (302, {"Location": f"{site.base}/page"}, b"")
    page = fetch_url(f"{site.base}/old")
    assert page.url == f"{site.base}/page"
    assert [r["path"] for r in site.requests] == ["/old", "/older", "/page"]


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/admin", "http://[::1]:22/",
    "http://192.168.0.1/", "ftp://example.com/",
])
def test_a_redirect_from_an_allowed_server_to_a_private_address_is_refused(site, settings, location):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = False
    site.routes["/go"] = (302, {"Location": location}, b"")
    with pytest.raises(UrlRefused):
        fetch_url(f"{site.base}/go", address_allowed=only_the_test_server)
    assert [r["path"] for r in site.requests] == ["/go"]  # nothing else was requested


def test_redirect_loops_stop_after_five_hops(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    site.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError, match="redirects too many times"):
        fetch_url(f"{site.base}/loop")
    assert len(site.requests) == 6  # the first request and five redirects


def test_pages_over_the_size_cap_are_refused_with_or_without_a_content_length(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    site.routes["/big"] = (200, {"Content-Type": "text/plain"}, b"a" * 5000)

    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for _ in range(10):
            handler.wfile.write(b"3e8\r\n" + b"b" * 1000 + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    site.routes["/stream"] = chunked
    for path in ("/big", "/stream"):
        with pytest.raises(FetchError, match="too large"):
            fetch_url(f"{site.base}{path}", max_bytes=4000)


def test_compressed_pages_are_inflated_within_the_size_cap(site, settings):
    import gzip

    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    site.routes["/gz"] = (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"},
                          gzip.compress(b"<html><body><p>Queijo minas frescal.</p></body></html>"))
    site.routes["/bomb"] = (200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"},
                            gzip.compress(b"a" * 200_000))  # ~200 bytes on the wire
    assert fetch_url(f"{site.base}/gz").text == "Queijo minas frescal."
    with pytest.raises(FetchError, match="too large"):
        fetch_url(f"{site.base}/bomb", max_bytes=10_000)


def test_a_slow_server_is_cut_off_at_the_time_limit(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(20):  # a byte every 0.1 s: each read is quick, the whole is not
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    site.routes["/slow"] = trickle
    started = time.monotonic()
    with pytest.raises(FetchError, match="too long"):
        fetch_url(f"{site.base}/slow", timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_documents_behind_links_are_read_and_other_types_refused(site, settings):
    settings.KNOWLEDGE_URL_ALLOW_PRIVATE = True
    site.routes["/menu.pdf"] = (200, {"Content-Type": "application/pdf"}, make_pdf(["Cardápio de frios da semana."]))
    site.routes["/logo.png"] = (200, {"Content-Type": "image/png"}, make_png())
    site.routes["/notes"] = (200, {"Content-Type": "text/plain; charset=iso-8859-1"}, "Promoção de pão".encode("latin-1"))
    assert "Cardápio de frios da semana." in fetch_url(f"{site.base}/menu.pdf").text
    assert fetch_url(f"{site.base}/notes").text == "Promoção de pão"
    with pytest.raises(FetchError, match="image/png"):
        fetch_url(f"{site.base}/logo.png")
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(f"{site.base}/missing")
