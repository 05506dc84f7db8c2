"""Network identity: IP addresses (residential, campus, datacenter) and user agents.

The prefixes are well-known consumer-ISP and cloud/hosting blocks, used only to make
addresses look like the kind of network they stand for; they are not an allocation list.
"""

from __future__ import annotations

import ipaddress

import numpy as np

__all__ = [
    "browser_ua",
    "datacenter_ip",
    "datacenter_slash24",
    "ip_in_slash24",
    "residential_ip",
    "scripted_ua",
    "sdk_ua",
]

_RESIDENTIAL: dict[str, tuple[str, ...]] = {
    "americas": ("73.0.0.0/8", "98.192.0.0/10", "24.0.0.0/12", "67.160.0.0/11", "189.0.0.0/11"),
    "europe": ("79.192.0.0/10", "86.128.0.0/10", "92.64.0.0/10", "81.56.0.0/13", "5.144.0.0/12"),
    "asia": ("126.0.0.0/9", "49.32.0.0/11", "110.0.0.0/10", "1.224.0.0/11", "58.120.0.0/13"),
    "oceania": ("121.200.0.0/13", "101.160.0.0/11", "124.168.0.0/13"),
}
_CAMPUS = ("128.32.0.0/16", "171.64.0.0/14", "129.215.0.0/16", "18.0.0.0/11", "141.2.0.0/16")
_DATACENTER = (
    "3.208.0.0/12",
    "52.0.0.0/11",
    "34.64.0.0/10",
    "35.192.0.0/12",
    "20.40.0.0/13",
    "40.64.0.0/11",
    "159.65.0.0/16",
    "167.172.0.0/16",
    "138.68.0.0/16",
    "65.108.0.0/15",
    "88.198.0.0/16",
    "51.75.0.0/16",
    "146.59.0.0/16",
    "172.104.0.0/15",
    "45.32.0.0/15",
    "149.28.0.0/16",
    "47.74.0.0/15",
    "43.154.0.0/15",
)


def _region(tz: float) -> str:
    if tz <= -2.5:
        return "americas"
    if tz <= 4.0:
        return "europe"
    if tz >= 9.5:
        return "oceania"
    return "asia"


def _host(rng: np.random.Generator, cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + int(rng.integers(1, net.num_addresses - 1)))


def residential_ip(rng: np.random.Generator, tz: float, campus: bool = False) -> str:
    """A consumer-ISP (or university campus) address in the region of UTC offset ``tz``."""
    if campus:
        return _host(rng, _CAMPUS[int(rng.integers(len(_CAMPUS)))])
    pre = _RESIDENTIAL[_region(tz)]
    return _host(rng, pre[int(rng.integers(len(pre)))])


def datacenter_ip(rng: np.random.Generator) -> str:
    """A cloud / hosting provider address."""
    return _host(rng, _DATACENTER[int(rng.integers(len(_DATACENTER)))])


def datacenter_slash24(rng: np.random.Generator) -> str:
    """A random ``a.b.c.0/24`` inside a hosting provider block."""
    net = ipaddress.ip_network(_DATACENTER[int(rng.integers(len(_DATACENTER)))])
    block = int(rng.integers(0, net.num_addresses // 256))
    return f"{net.network_address + block * 256}/24"


def ip_in_slash24(rng: np.random.Generator, prefix: str) -> str:
    """A host address inside the ``/24`` ``prefix``."""
    return _host(rng, prefix)


def browser_ua(rng: np.random.Generator) -> str:
    """A desktop or mobile browser User-Agent with randomised versions."""
    major = int(rng.integers(118, 134))
    build = int(rng.integers(5000, 6999))
    patch = int(rng.integers(50, 220))
    kind = int(rng.integers(6))
    if kind == 0:
        return (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.{build}.{patch} Safari/537.36"
        )
    if kind == 1:
        mac = f"10_15_{int(rng.integers(1, 8))}"
        return (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X {mac}) AppleWebKit/537.36 "
            f"(KHTML, like Gecko) Chrome/{major}.0.{build}.{patch} Safari/537.36"
        )
    if kind == 2:
        ff = int(rng.integers(115, 133))
        return f"Mozilla/5.0 (X11; Linux x86_64; rv:{ff}.0) Gecko/20100101 Firefox/{ff}.0"
    if kind == 3:
        v = f"{int(rng.integers(16, 19))}.{int(rng.integers(0, 7))}"
        return (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{v} Safari/605.1.15"
        )
    if kind == 4:
        ios = f"{int(rng.integers(16, 19))}_{int(rng.integers(0, 7))}"
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{ios.replace('_', '.')} Mobile/15E148 Safari/604.1"
        )
    return (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.{build}.{patch} Safari/537.36 Edg/{major}.0.{build - 40}.{patch // 2}"
    )


def sdk_ua(rng: np.random.Generator) -> str:
    """An official-SDK User-Agent (Python or Node)."""
    if rng.random() < 0.7:
        return f"OpenAI/Python 1.{int(rng.integers(40, 110))}.{int(rng.integers(0, 5))}"
    return f"OpenAI/JS 4.{int(rng.integers(50, 105))}.{int(rng.integers(0, 5))}"


def scripted_ua(rng: np.random.Generator) -> str:
    """An HTTP-library User-Agent typical of scripts."""
    kind = int(rng.integers(5))
    if kind == 0:
        return f"python-requests/2.{int(rng.integers(25, 33))}.{int(rng.integers(0, 4))}"
    if kind == 1:
        return f"python-httpx/0.{int(rng.integers(23, 29))}.{int(rng.integers(0, 3))}"
    if kind == 2:
        return f"Python/3.{int(rng.integers(9, 13))} aiohttp/3.{int(rng.integers(8, 12))}.1"
    if kind == 3:
        return f"Go-http-client/{int(rng.integers(1, 3))}.1"
    return f"curl/8.{int(rng.integers(0, 12))}.{int(rng.integers(0, 2))}"
