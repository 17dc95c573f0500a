"""Which IP addresses a feed fetch may connect to (the SSRF guard's policy).

By default only globally routable addresses are allowed: loopback, private,
link-local (cloud metadata at 169.254.169.254), shared, reserved, multicast and
unspecified addresses are refused. The configuration can allow all of them, or
exactly some addresses, networks or address:port pairs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_entry(text: str) -> tuple[IPNetwork, int | None]:
    """Parse '10.0.0.0/8', '127.0.0.1', '127.0.0.1:8765' or '[::1]:8080'."""
    value = text.strip()
    port: int | None = None
    host = value
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError(f"'{text}': missing ']' after an IPv6 address")
        host = value[1:end]
        rest = value[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"'{text}': expected [address]:port")
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"'{text}': the port after ':' must be a number")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"'{text}': port {port} is out of range")
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        raise ValueError(
            f"'{text}' is not an IP address, network or address:port "
            "(such as 127.0.0.1:8765 or 10.0.0.0/8); host names are not accepted "
            "because the check is made on resolved addresses"
        ) from None
    return network, port


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    ip = _plain(ip)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    allow_everything: bool = False
    allowed: tuple[tuple[IPNetwork, int | None], ...] = ()

    @classmethod
    def allow_all(cls) -> AddressPolicy:
        return cls(allow_everything=True)

    @classmethod
    def from_setting(cls, setting: bool | tuple[str, ...]) -> AddressPolicy:
        if setting is True:
            return cls.allow_all()
        if not setting:
            return cls()
        return cls(allowed=tuple(parse_allow_entry(item) for item in setting))

    def permits(self, address: str, port: int) -> bool:
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        if self.allow_everything or is_public(ip):
            return True
        return any(
            ip.version == network.version and ip in network and (want is None or want == port)
            for network, want in self.allowed
        )
