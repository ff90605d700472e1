"""The default miniature Internet: the single source of truth for hosts, addresses, ports and zones.

`minternet up`, the generated zone files and root hints, the tests and (later) the compose file
all read this module, so addresses, zones and users never drift between them.

Every host has its own loopback address, so every server of one kind listens on the same port,
as on the real Internet: the standard port (`--standard-ports`, needs root) or, by default, the
standard port + 10000 (DNS 10053, SMTP 10025, submission 10587, IMAP 10143, POP3 10110,
tracker 16969).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

UNPRIVILEGED_OFFSET = 10000

#: Standard port of each kind of listener.
STANDARD_PORTS: dict[str, int] = {
    "dns": 53,
    "smtp": 25,  # RFC 5321: mail between servers (MX)
    "submission": 587,  # RFC 6409, STARTTLS
    "submissions": 465,  # RFC 8314: submission over implicit TLS
    "imap": 143,
    "imaps": 993,  # RFC 8314
    "pop3": 110,
    "pop3s": 995,  # RFC 8314
    "http": 6969,  # BitTorrent trackers conventionally use 6969 (HTTP and UDP)
    "udp": 6969,
    "bittorrent": 6881,  # the first of the ports BitTorrent clients conventionally listen on
    "control": 8953,  # every daemon's control endpoint (Unbound's remote-control port)
}


def port_scheme(standard: bool = False, *, offset: int = UNPRIVILEGED_OFFSET) -> dict[str, int]:
    """The port of each kind of listener: standard ports, or standard + `offset`.

    A second offset (`minternet up --port-offset 20000`) lets a test topology run beside a
    user's own `minternet up`.
    """
    if standard:
        return dict(STANDARD_PORTS)
    if not 1 <= offset <= 65535 - max(STANDARD_PORTS.values()):
        raise ValueError(f"port offset {offset} out of range")
    return {k: v + offset for k, v in STANDARD_PORTS.items()}


@dataclass(frozen=True, slots=True)
class MailUser:
    """A user of a mail host, with a demo password: the miniature Internet is a teaching
    setup on loopback, and scripts, tests and people need to log in (`minternet status --json`
    and `up` print them). The mail server keeps only a hash of it."""

    address: str
    password: str


@dataclass(frozen=True, slots=True)
class Host:
    """One machine of the miniature Internet: a daemon on its own loopback address."""

    name: str  # short service name used by `minternet up --only` and `status`
    role: str  # "dns-root" | "dns-tld" | "dns-auth" | "resolver" | "mail" | "tracker" | "peer"
    address: str  # its 127.0.0.x address
    fqdn: str  # its name in the DNS, absolute (trailing dot)
    zones: tuple[str, ...] = ()  # zones it serves (DNS roles)
    listeners: tuple[str, ...] = ("dns", "control")  # kinds of port it binds
    # Mail role: the domains it is the mail server of (absolute; their MX and RFC 6186 SRV
    # records are derived from it in zonegen.py) and their users, the first of each domain
    # being its protagonist (alice@crepes.fr, bob@hamburger.edu).
    mail_domains: tuple[str, ...] = ()
    users: tuple[MailUser, ...] = ()
    # DNS: the host whose zones this one serves as a secondary (zone transfers, NOTIFY); None
    # for a primary, which serves its zones from the files generated here
    secondary_of: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record of a zone, in master-file text relative to the zone origin.

    `rdata` may contain `{port:KIND}` placeholders, filled from the port scheme (SRV records).
    """

    owner: str
    rtype: str
    rdata: str
    ttl: int | None = None


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...]
    #: Zone contents beyond what is derived (SOA, NS, delegations, glue and host addresses).
    records: dict[str, tuple[Record, ...]] = field(default_factory=dict)
    default_ttl: int = 3600
    negative_ttl: int = 300

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def roles(self) -> list[str]:
        return sorted({h.role for h in self.hosts})

    def zone_servers(self, zone: str) -> list[Host]:
        """The hosts serving `zone`, its primary first (the SOA names it)."""
        hosts = [h for h in self.hosts if zone in h.zones]
        return sorted(hosts, key=lambda h: h.secondary_of is not None)

    def secondaries(self, primary: Host, zone: str) -> list[Host]:
        """The hosts that serve `zone` as secondaries of `primary`."""
        return [h for h in self.hosts if h.secondary_of == primary.name and zone in h.zones]

    def mail_hosts(self) -> list[Host]:
        return [h for h in self.hosts if h.role == "mail"]

    def zones(self) -> list[str]:
        seen: dict[str, None] = {}
        for h in self.hosts:
            for z in h.zones:
                seen.setdefault(z, None)
        return list(seen)


#: What a mail host binds: SMTP (MX), submission and submissions, IMAP and IMAPS, POP3 and
#: POP3S, and the control endpoint every daemon has.
MAIL_LISTENERS = (
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "control",
)


def _r(owner: str, rtype: str, rdata: str, ttl: int | None = None) -> Record:
    return Record(owner, rtype, rdata, ttl)


def _dkim_txt(selector_seed: str, bits: int = 4096) -> str:
    """A DKIM-style TXT rdata with a stand-in RSA key of `bits` (deterministic, not a real key).

    Large enough (about 750 octets) not to fit a 512-octet UDP answer: `dig +bufsize=512` on it
    shows truncation and the retry over TCP.
    """
    raw = b""
    block = selector_seed.encode()
    while len(raw) < bits // 8 + 38:  # SubjectPublicKeyInfo overhead of an RSA key
        block = hashlib.sha256(block).digest()
        raw += block
    key = base64.b64encode(raw[: bits // 8 + 38]).decode()
    chunks = [key[i : i + 250] for i in range(0, len(key), 250)]  # <= 255 octets per string
    return '"v=DKIM1; k=rsa; " ' + " ".join(
        f'"p={c}"' if i == 0 else f'"{c}"' for i, c in enumerate(chunks)
    )


DEFAULT = Topology(
    hosts=(
        # The local DNS server of the notes' example: the host engineering.nyu.edu asks its
        # local DNS server dns.nyu.edu, which walks root -> TLD -> authoritative for it.
        Host("local-dns", "resolver", "127.0.0.2", "dns.nyu.edu."),
        # The DNS hierarchy of the notes: root -> TLDs -> authoritative servers.
        # As a.root-servers.net does, the root server also serves arpa., the infrastructure
        # domain whose in-addr.arpa. and ip6.arpa. hold reverse DNS (address -> name).
        Host("root", "dns-root", "127.0.0.10", "a.root-servers.net.", (".", "arpa.")),
        Host("tld-com", "dns-tld", "127.0.0.11", "a.gtld-servers.net.", ("com.", "net.")),
        Host("tld-edu", "dns-tld", "127.0.0.12", "a.edu-servers.net.", ("edu.",)),
        Host("tld-fr", "dns-tld", "127.0.0.13", "d.nic.fr.", ("fr.",)),
        # Reverse DNS: in-addr.arpa. and ip6.arpa. (second-level zones of the TLD arpa.)
        # delegate the reverse zones of address blocks to their holders. 127.0.0.0/8 and the
        # documentation prefix 2001:db8::/32 are IANA's; their zones hold a PTR for every
        # address of the topology (derived in zonegen.py).
        Host(
            "in-addr-servers",
            "dns-auth",
            "127.0.0.14",
            "a.in-addr-servers.arpa.",
            ("in-addr.arpa.", "ip6.arpa."),
        ),
        Host("dns-umass", "dns-auth", "127.0.0.20", "dns.umass.edu.", ("umass.edu.",)),
        Host("dns-nyu", "dns-auth", "127.0.0.21", "ns1.nyu.edu.", ("nyu.edu.",)),
        Host("dns-crepes", "dns-auth", "127.0.0.22", "dns.crepes.fr.", ("crepes.fr.",)),
        Host("dns-hamburger", "dns-auth", "127.0.0.23", "dns.hamburger.edu.", ("hamburger.edu.",)),
        # "create authoritative server locally with IP address 212.212.212.1" (notes): dns1
        # has its own address; it also serves enterprise.com (an out-of-zone NS name).
        Host(
            "dns-networkutopia",
            "dns-auth",
            "127.0.0.24",
            "dns1.networkutopia.com.",
            ("networkutopia.com.", "enterprise.com."),
        ),
        # "provide names, IP addresses of authoritative name server (primary and secondary)":
        # dns2 serves networkutopia.com as a secondary of dns1 (NOTIFY, IXFR/AXFR).
        Host(
            "dns-networkutopia2",
            "dns-auth",
            "127.0.0.27",
            "dns2.networkutopia.com.",
            ("networkutopia.com.",),
            secondary_of="dns-networkutopia",
        ),
        Host("dns-amazon", "dns-auth", "127.0.0.25", "ns1.amazon.com.", ("amazon.com.",)),
        Host(
            "dns-reverse",
            "dns-auth",
            "127.0.0.26",
            "a.iana-servers.net.",
            ("127.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."),
        ),
        # The notes' "Alice sends e-mail to Bob": Alice's mail server and Bob's. Each
        # domain's MX, the RFC 6186 SRV records and the hosts' addresses are derived.
        Host(
            "mail-crepes",
            "mail",
            "127.0.0.40",
            "mail.crepes.fr.",
            listeners=MAIL_LISTENERS,
            mail_domains=("crepes.fr.",),
            users=(
                MailUser("alice@crepes.fr", "alice-in-paris"),
                MailUser("carol@crepes.fr", "carol-in-lyon"),
            ),
        ),
        Host(
            "mail-hamburger",
            "mail",
            "127.0.0.41",
            "mail.hamburger.edu.",
            listeners=MAIL_LISTENERS,
            mail_domains=("hamburger.edu.",),
            users=(
                MailUser("bob@hamburger.edu", "bob-in-hamburg"),
                MailUser("dave@hamburger.edu", "dave-in-bremen"),
            ),
        ),
        # The BitTorrent tracker peers register with, found by name through the DNS.
        Host(
            "tracker",
            "tracker",
            "127.0.0.50",
            "tracker.networkutopia.com.",
            listeners=("http", "udp", "control"),
        ),
        # A peer seeding the sample file (minternet/launch.py makes it and its torrent), so a
        # download works right after `up`.
        Host(
            "seeder",
            "peer",
            "127.0.0.60",
            "seeder.networkutopia.com.",
            listeners=("bittorrent", "control"),
        ),
    ),
    records={
        "umass.edu.": (
            _r("@", "MX", "10 mail.umass.edu."),
            _r("@", "TXT", '"v=spf1 mx -all"'),
            _r("www", "A", "127.0.1.20"),
            _r("mail", "A", "127.0.1.21"),
            _r("gaia.cs", "A", "127.0.1.22"),
            _r("gaia.cs", "AAAA", "2001:db8:119::12"),
            _r("cs", "CNAME", "gaia.cs.umass.edu."),
        ),
        "nyu.edu.": (
            _r("@", "MX", "10 mx.nyu.edu."),
            _r("mx", "A", "127.0.1.30"),
            _r("www", "A", "127.0.1.31"),
            _r("engineering", "A", "127.0.1.32"),
        ),
        # The mail hosts' A records, the MX and the RFC 6186 SRV records are derived from
        # the mail-crepes and mail-hamburger hosts (zonegen.py).
        "crepes.fr.": (
            _r("@", "TXT", '"v=spf1 mx -all"'),
            _r("www", "A", "127.0.1.40"),
            _r("smtp", "CNAME", "mail.crepes.fr."),
            _r("imap", "CNAME", "mail.crepes.fr."),
            _r("mail._domainkey", "TXT", _dkim_txt("crepes.fr")),
        ),
        "hamburger.edu.": (
            _r("@", "TXT", '"v=spf1 mx -all"'),
            _r("www", "A", "127.0.1.41"),
        ),
        "networkutopia.com.": (
            _r("@", "MX", "10 mail.networkutopia.com."),
            _r("@", "TXT", '"networkutopia: the registrar example of the notes"'),
            _r("@", "CAA", '0 issue "letsencrypt.org"'),
            _r("www", "A", "127.0.1.50"),
            _r("www", "AAAA", "2001:db8:212::80"),
            _r("mail", "A", "127.0.1.51"),
            _r("ftp", "CNAME", "www.networkutopia.com."),
            _r("_tracker._tcp", "SRV", "0 1 {port:http} tracker.networkutopia.com."),
            # RFC 4592 wildcard: any name under users. answers with the same address.
            _r("*.users", "A", "127.0.1.52"),
        ),
        "enterprise.com.": (
            # "relay1.west-coast.enterprise.com: two aliases, enterprise.com and www" (notes)
            _r("@", "A", "127.0.1.60"),
            _r("relay1.west-coast", "A", "127.0.1.60"),
            _r("www", "CNAME", "relay1.west-coast.enterprise.com."),
        ),
        "amazon.com.": (
            # one name, several addresses: load distribution across replicated web servers
            _r("www", "CNAME", "edge.amazon.com."),
            _r("edge", "A", "127.0.1.70", 60),
            _r("edge", "A", "127.0.1.71", 60),
            _r("edge", "A", "127.0.1.72", 60),
        ),
    },
)
