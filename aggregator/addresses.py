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


# IPv6 forms that carry an IPv4 address in their last 32 bits, which a gateway on the
# way (NAT64, SIIT) or the host's own stack (IPv4-compatible) may deliver to that IPv4
# address: judged as the IPv4 address they carry. 64:ff9b::/96 is NAT64's well-known
# prefix (RFC 6052), ::ffff:0:0:0/96 SIIT's IPv4-translated form (RFC 2765), ::/96 the
# deprecated IPv4-compatible form (RFC 4291).
_CARRY_IPV4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("::/96"),
)
# Not globally reachable, whatever the running Python's tables say (they vary by
# version): NAT64's local-use prefix (RFC 8215), the deprecated site-local prefix (RFC
# 3879), the documentation prefix 3fff::/20 (RFC 9637) and SRv6 SIDs 5f00::/16 (RFC
# 9602); IETF protocol assignments 192.0.0.0/24 (RFC 6890; no feed is served from its
# two anycast services) and the retired 6to4 relay anycast 192.88.99.0/24 (RFC 7526).
_NOT_GLOBAL_V6 = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("fec0::/10"),
    ipaddress.IPv6Network("3fff::/20"),
    ipaddress.IPv6Network("5f00::/16"),
)
_NOT_GLOBAL_V4 = (ipaddress.IPv4Network("192.0.0.0/24"), ipaddress.IPv4Network("192.88.99.0/24"))


def _plain(ip: IPAddress) -> IPAddress:
    """The address a connection to ip reaches: the IPv4 address an IPv6 form carries
    (IPv4-mapped, 6to4, NAT64, SIIT, IPv4-compatible), else ip itself."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) > 1 and any(ip in network for network in _CARRY_IPV4):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(ip: IPAddress) -> bool:
    ip = _plain(ip)
    special = _NOT_GLOBAL_V6 if isinstance(ip, ipaddress.IPv6Address) else _NOT_GLOBAL_V4
    if any(ip in network for network in special):
        return False
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
