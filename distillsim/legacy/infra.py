"""Network identity of simulated clients: IP prefixes, user agents and request headers.

The prefixes are *the simulator's own classification*, picked from well-known cloud /
hosting provider blocks (``datacenter``), consumer ISP blocks (``residential``) and
university networks (``campus``). They make the datacenter-vs-residential signal
learnable from the samples; they are not an authoritative allocation list.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CAMPUS_PREFIXES",
    "DATACENTER_PREFIXES",
    "GATEWAY_HOST",
    "RESIDENTIAL_PREFIXES",
    "Client",
    "make_client",
    "random_ips",
    "random_slash24",
]

GATEWAY_HOST = "llm-gateway.example.com"

DATACENTER_PREFIXES: tuple[str, ...] = (
    "3.208.0.0/12",  # AWS
    "18.204.0.0/14",  # AWS
    "54.144.0.0/12",  # AWS
    "34.64.0.0/10",  # Google Cloud
    "35.184.0.0/13",  # Google Cloud
    "20.36.0.0/14",  # Azure
    "40.112.0.0/13",  # Azure
    "159.89.0.0/16",  # DigitalOcean
    "167.99.0.0/16",  # DigitalOcean
    "143.198.0.0/16",  # DigitalOcean
    "65.108.0.0/15",  # Hetzner
    "95.216.0.0/15",  # Hetzner
    "51.68.0.0/16",  # OVH
    "141.94.0.0/16",  # OVH
    "172.104.0.0/15",  # Linode / Akamai
    "45.76.0.0/16",  # Vultr
    "47.88.0.0/14",  # Alibaba Cloud
    "43.128.0.0/14",  # Tencent Cloud
)
# The hosting ranges the hydra campaigns rent their /24s from (cheap VPS providers).
HOSTING_PREFIXES: tuple[str, ...] = DATACENTER_PREFIXES[7:]

RESIDENTIAL_PREFIXES: dict[str, tuple[str, ...]] = {
    "americas": ("73.0.0.0/8", "98.192.0.0/10", "71.80.0.0/13", "108.0.0.0/13", "177.0.0.0/10"),
    "europe": ("79.192.0.0/10", "86.128.0.0/10", "90.0.0.0/9", "83.32.0.0/11", "2.80.0.0/12"),
    "asia": ("126.0.0.0/9", "49.32.0.0/11", "106.128.0.0/11", "116.0.0.0/10", "121.128.0.0/10"),
}

CAMPUS_PREFIXES: tuple[str, ...] = (
    "128.32.0.0/16",
    "171.64.0.0/14",
    "129.215.0.0/16",
    "131.111.0.0/16",
    "130.126.0.0/16",
    "192.33.90.0/23",
)


def _region(tz_hours: float) -> str:
    if tz_hours <= -2.5:
        return "americas"
    if tz_hours <= 4.0:
        return "europe"
    return "asia"


def random_ips(
    rng: np.random.Generator, prefixes: tuple[str, ...] | list[str], k: int
) -> list[str]:
    """Draw ``k`` host addresses, each from a random prefix of ``prefixes``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    prefixes : sequence of str
        CIDR prefixes.
    k : int
        Number of addresses.

    Returns
    -------
    list of str
    """
    out = []
    for _ in range(k):
        net = ipaddress.ip_network(prefixes[int(rng.integers(len(prefixes)))])
        host = int(rng.integers(1, net.num_addresses - 1))
        out.append(str(net.network_address + host))
    return out


def random_slash24(rng: np.random.Generator, prefixes: tuple[str, ...] = HOSTING_PREFIXES) -> str:
    """Return a random ``a.b.c.0/24`` inside one of ``prefixes``."""
    net = ipaddress.ip_network(prefixes[int(rng.integers(len(prefixes)))])
    block = int(rng.integers(0, net.num_addresses // 256))
    return f"{net.network_address + block * 256}/24"


def residential_prefixes(tz_hours: float) -> tuple[str, ...]:
    """Consumer ISP prefixes of the region matching a UTC offset."""
    return RESIDENTIAL_PREFIXES[_region(tz_hours)]


# --- user agents and headers ------------------------------------------------------------

_PY_VERSIONS = ("1.51.0", "1.54.4", "1.58.1", "1.63.2", "1.68.2", "1.82.1", "1.97.0")
_JS_VERSIONS = ("4.67.3", "4.77.0", "4.85.1", "5.3.0", "5.10.1")
_CPY = ("3.10.14", "3.11.9", "3.12.4", "3.12.7", "3.13.1")
_NODE = ("v18.20.4", "v20.11.1", "v20.17.0", "v22.9.0")
_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)
GENERIC_CLIENTS: tuple[str, ...] = (
    "python-requests/2.32.3",
    "python-httpx/0.27.2",
    "Python/3.11 aiohttp/3.10.10",
    "Go-http-client/2.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Apache-HttpClient/4.5.14 (Java/17.0.12)",
    "reqwest/0.12.8",
)


@dataclass(frozen=True, slots=True)
class Client:
    """One client software identity: its User-Agent and the headers it sends.

    Parameters
    ----------
    user_agent : str
        The User-Agent header.
    headers : tuple of (str, str)
        Headers in arrival order, without ``content-length`` and
        ``x-forwarded-for`` (added per request).
    """

    user_agent: str
    headers: tuple[tuple[str, str], ...]


def make_client(rng: np.random.Generator, family: str) -> Client:
    """Create a client identity of a given family.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    family : str
        ``openai-python``, ``openai-python-async``, ``openai-js``, ``browser`` or a
        generic client from :data:`GENERIC_CLIENTS` (``generic`` picks one at random;
        any other string is used verbatim as the User-Agent of a generic client).

    Returns
    -------
    Client
    """

    def pick(seq: tuple[str, ...]) -> str:
        return seq[int(rng.integers(len(seq)))]

    if family in ("openai-python", "openai-python-async"):
        ver = pick(_PY_VERSIONS)
        is_async = family.endswith("async")
        ua = f"{'AsyncOpenAI' if is_async else 'OpenAI'}/Python {ver}"
        os_name = pick(("Linux", "Linux", "Linux", "MacOS", "Windows"))
        arch = "arm64" if os_name == "MacOS" and rng.random() < 0.7 else "x64"
        headers = (
            ("host", GATEWAY_HOST),
            ("accept-encoding", "gzip, deflate"),
            ("connection", "keep-alive"),
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("user-agent", ua),
            ("x-stainless-lang", "python"),
            ("x-stainless-package-version", ver),
            ("x-stainless-os", os_name),
            ("x-stainless-arch", arch),
            ("x-stainless-runtime", "CPython"),
            ("x-stainless-runtime-version", pick(_CPY)),
            ("x-stainless-async", "async:asyncio" if is_async else "false"),
            ("x-stainless-raw-response", "true"),
            ("x-stainless-retry-count", "0"),
            ("x-stainless-read-timeout", "600"),
        )
        return Client(ua, headers)
    if family == "openai-js":
        ver = pick(_JS_VERSIONS)
        ua = f"OpenAI/JS {ver}"
        os_name = pick(("Linux", "Linux", "MacOS"))
        headers = (
            ("host", GATEWAY_HOST),
            ("connection", "keep-alive"),
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("user-agent", ua),
            ("x-stainless-lang", "js"),
            ("x-stainless-package-version", ver),
            ("x-stainless-os", os_name),
            ("x-stainless-arch", "arm64" if os_name == "MacOS" else "x64"),
            ("x-stainless-runtime", "node"),
            ("x-stainless-runtime-version", pick(_NODE)),
            ("x-stainless-retry-count", "0"),
            ("accept-encoding", "gzip, deflate"),
        )
        return Client(ua, headers)
    if family == "browser":
        ua = pick(_BROWSERS)
        headers = (
            ("host", GATEWAY_HOST),
            ("connection", "keep-alive"),
            ("accept", "*/*"),
            ("content-type", "application/json"),
            ("user-agent", ua),
            ("origin", "https://chat.example.app"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty"),
            ("referer", "https://chat.example.app/"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            (
                "accept-language",
                pick(("en-US,en;q=0.9", "en-GB,en;q=0.8", "de-DE,de;q=0.9,en;q=0.7")),
            ),
        )
        return Client(ua, headers)
    ua = pick(GENERIC_CLIENTS) if family == "generic" else family
    if ua.startswith("Go-http-client"):
        headers = (
            ("host", GATEWAY_HOST),
            ("user-agent", ua),
            ("content-type", "application/json"),
            ("accept-encoding", "gzip"),
        )
    elif ua.startswith("curl"):
        headers = (
            ("host", GATEWAY_HOST),
            ("user-agent", ua),
            ("accept", "*/*"),
            ("content-type", "application/json"),
        )
    else:
        headers = (
            ("host", GATEWAY_HOST),
            ("accept", "*/*"),
            ("accept-encoding", "gzip, deflate"),
            ("connection", "keep-alive"),
            ("user-agent", ua),
            ("content-type", "application/json"),
        )
    return Client(ua, headers)
