"""The lexicon: the field's names, their senses, and how a post's words are matched to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.errors import ModelError
from aggregator.features.tokens import tokens
from aggregator.topics.lexicon import LEXICON_DIR, Lexicon
from aggregator.topics.taxonomy import load_lexicon, load_taxonomy


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon()


def found(lexicon: Lexicon, text: str) -> tuple[set[str], set[str], set[str]]:
    """(networking names that count, ambiguous ones, general-computing ones) of a text."""
    result = lexicon.find(tokens(text), text)
    return (
        {e.key for e in result.networking},
        {e.key for e in result.ambiguous},
        {e.key for e in result.general},
    )


def test_the_lexicon_knows_the_field_at_scale(lexicon: Lexicon) -> None:
    entries = list(lexicon.entries.values())
    networking = [e for e in entries if e.networking]
    general = [e for e in entries if not e.networking]
    assert len(networking) > 8000 and len(general) > 6000
    assert all(e.source for e in entries)
    kinds = {e.kind for e in networking}
    assert {
        "protocol",
        "daemon",
        "cni",
        "service-mesh",
        "ingress",
        "cli",
        "config-object",
        "os",
        "hardware",
    } <= kinds
    # Every topic has names of its own, and every taxonomy keyword is an entry of its topic.
    for topic in load_taxonomy():
        assert sum(topic.name in e.topics for e in networking) >= 40, topic.name
        for word in topic.keywords.words:
            if len(word) > 1 and not word.isdigit():  # single letters and bare numbers never are
                assert topic.name in lexicon.entries[word].topics, (topic.name, word)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Our GoBGP speakers announce the service addresses", "bgp"),
        ("exabgp and openbgpd side by side", "bgp"),
        ("ospf6d would not start after the upgrade", "ospf"),
        ("Two kubeconfig files and one context too many", "kubernetes"),
        ("kube-vip for the control plane address", "kubernetes"),
        ("dnsmasq hands out the leases", "dns"),
        ("A route-reflector cluster of two", "route reflector"),
        ("BGP-LU across the metro", "bgp"),
    ],
)
def test_a_name_that_embeds_a_protocol_resolves_to_it(lexicon: Lexicon, text: str, key: str) -> None:
    assert key in found(lexicon, text)[0]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("The uplink on GigabitEthernet0/1 went err-disabled", "gigabitethernet"),
        ("Gi1/0/22 keeps flapping", "gigabitethernet"),
        ("Only Te1/0/2.100 passes tagged frames", "tengigabitethernet"),
        ("Hu0/0/0/3 shows CRC errors after the move", "hundredgige"),
        ("Bundle-Ether10 lost a member", "bundle-ether"),
        ("Port-channel1 is suspended on one side", "port-channel"),
        ("Eth1/49 is the peer link", "ethernet"),
        ("Why ge-0/0/0.0 has no family inet", "junos"),
        ("ae0.100 carries the customer VLAN", "junos"),
    ],
)
def test_an_interface_name_is_a_networking_name(lexicon: Lexicon, text: str, key: str) -> None:
    # No English word or general-computing name is spelt so: settled evidence alone.
    assert key in found(lexicon, text)[0]


@pytest.mark.parametrize(
    "text",
    [
        "eth0 and wlan0 on my laptop",  # a Linux name has no slot
        "te1 po1 gi2",  # a short form needs its slash
        "Windows 10/11 and macOS 14",
        "ge-1 and xe-2 in the release notes",
        "Issue 2022/06 of the magazine",
    ],
)
def test_a_number_after_a_word_is_no_interface_name(lexicon: Lexicon, text: str) -> None:
    networking, _, _ = found(lexicon, text)
    assert not networking & {
        "gigabitethernet",
        "tengigabitethernet",
        "port-channel",
        "ethernet",
        "junos",
        "hundredgige",
    }


@pytest.mark.parametrize(
    "word",
    ["crisis", "pimple", "filter", "lowland", "picnic", "montpelier", "rsvps", "focusflow", "songbird"],
)
def test_english_words_that_contain_a_protocol_name_stay_english(lexicon: Lexicon, word: str) -> None:
    networking, _, _ = found(lexicon, f"A {word} in the afternoon")
    assert networking == set()


def test_the_longest_match_wins(lexicon: Lexicon) -> None:
    networking, ambiguous, general = found(lexicon, "Protocol buffers in Go: stop copying messages")
    assert "protocol" not in networking | ambiguous and "protocol buffers" in general
    networking, _, _ = found(lexicon, "Multicast DNS reflectors for the printers")
    assert "multicast dns" in networking and "multicast" not in networking
    beside = found(lexicon, "IGMP snooping and multicast DNS on one VLAN")[0]
    assert {"igmp snooping", "multicast dns"} <= beside and "multicast" not in beside


def test_an_acronym_counts_only_written_as_one(lexicon: Lexicon) -> None:
    assert "as" in found(lexicon, "Prepending AS 65010 three times")[0]
    assert "as" not in found(lexicon, "as far as I can tell")[0]
    assert "lisp" in found(lexicon, "LISP map servers for the campus")[0]
    assert "lisp" not in found(lexicon, "Writing Lisp macros on a rainy day")[0]


def test_capitals_in_a_line_written_all_in_capitals_say_nothing(lexicon: Lexicon) -> None:
    """A heading in capitals writes every word as an acronym would be: "DENT" there is a
    dent in a car door, not the network OS; a title of acronyms still names them."""
    assert "dent" not in found(lexicon, "HOW TO FIX A DENT IN YOUR CAR DOOR")[0]
    assert "dent" in found(lexicon, "Running DENT on white-box switches")[0]
    assert "lisp" in found(lexicon, "VXLAN EVPN ON NX-OS WITH LISP")[0]
    # The line is the heading's own: a summary below it in ordinary case does not count.
    assert "dent" not in found(lexicon, "HOW TO FIX A DENT IN YOUR CAR DOOR\nFirst, warm the panel.")[0]
    assert "dent" in found(lexicon, "THE WEEK IN REVIEW\nWe moved the lab to DENT on two switches.")[0]


def test_a_release_of_a_named_piece_of_software_settles_its_ambiguity(lexicon: Lexicon) -> None:
    """BIRD, BIND, KinD written so with a version number after them are the daemon and the
    tool; "a bird", a band, a film or a heading in capitals stay ambiguous."""
    for text, key in (
        ("BIRD version 2.0.11 is out", "bird"),
        ("BIRD 2.16.1", "bird"),
        ("Upgrading BIND 9.18.4 to 9.20.1", "bind"),
        ("Testing the CNI upgrade in KinD v0.20 first", "kind"),
        ("GAiA R81.20 on the gateways", "gaia"),
        # A name written with one capital, or in any case, is the software as well once a
        # release number follows it.
        ("Suricata 7.0.0 released", "suricata"),
        ("apt pulled in bind 9.18.24 overnight", "bind"),
    ):
        assert key in found(lexicon, text)[0], text
    for text, key in (
        ("A bird on the feeder at dawn", "bird"),
        ("BIRD OF THE WEEK: THE KINGFISHER Three weekends at the lake", "bird"),
        ("Review: BIRD (2024)", "bird"),
        ("BIRD 3.5/5: a fable about a twelve-year-old", "bird"),
        ("Box score leaders: BIRD 14.5 points per game", "bird"),
        ("BIRD 20.12.2024 at the lake", "bird"),
        ("Grindcore veterans NAPALM DEATH headline Saturday", "napalm"),
        ("The kind of week it was, version 2.0 of it", "kind"),
        ("Suricata suricatta, the meerkat, at the zoo", "suricata"),
    ):
        assert key in found(lexicon, text)[1], text
    # A spelling that the other senses share settles nothing: Canon's EOS cameras, other
    # expansions of the acronym (MTR, Hong Kong's railway; TTP, tactics, techniques and
    # procedures; BSS, business support systems), and names that are no software (ISIS).
    assert "eos" not in found(lexicon, "Canon EOS 5.2 firmware")[0]
    for text, key in (
        ("MTR 0.95 shows the loss at the third hop", "mtr"),
        ("TTP 0.9 released", "ttp"),
        ("BSS 2.0 for telcos", "bss"),
        ("ISIS 2.0 claims responsibility", "isis"),
    ):
        assert key not in found(lexicon, text)[0], text


def test_a_word_inside_a_phrase_is_not_counted_again_in_the_plural(lexicon: Lexicon) -> None:
    """The longest match wins with plurals too: "pod CIDRs" is the phrase, and no CIDR of
    its own; "routes" outside "static route" is a word of its own."""
    assert found(lexicon, "Kubernetes pod CIDRs overlap")[0] == {"kubernetes", "pod cidrs"}
    assert "routes" in lexicon.keys_in(tokens("One static route and three more routes"))


def test_a_dot_joined_to_a_name_makes_another_name(lexicon: Lexicon) -> None:
    assert "net" not in found(lexicon, "Porting the gadget firmware to .NET 8 and ASP.NET")[0]
    assert "net" in found(lexicon, "Choosing the NET for each IS-IS router")[0]
    assert "nat" in found(lexicon, "Three suspects: DNS, MTU and ...NAT")[0]


def test_words_a_network_blog_uses_in_one_sense(lexicon: Lexicon) -> None:
    """A firewall is a network's ("It's not the firewall" is an engineer's lament); a
    homelab is as often storage and GPUs as a network, so it needs a networking name
    beside it; the field's conferences are networking names."""
    assert "firewall" in found(lexicon, "It's not the firewall")[0]
    assert "homelab" in found(lexicon, "My homelab GPU node for local models")[1]
    beside = lexicon.find(tokens("VLANs for the homelab"), "VLANs for the homelab")
    assert "homelab" in {e.key for e in beside.counted}
    assert "cisco live" in found(lexicon, "Cisco Live 2013 final thoughts")[0]


def test_internet_slang_is_no_acronym_of_the_field(lexicon: Lexicon) -> None:
    assert found(lexicon, "TL;DR: I moved from vim to Emacs")[:2] == (set(), set())
    assert "dr" in found(lexicon, "Which router is the DR on this segment?")[0]


def test_an_acronym_spelled_like_a_general_name_counts_only_in_context(lexicon: Lexicon) -> None:
    # PHP is penultimate hop popping and the language, DOM and LCP are optics monitoring
    # and the web page's: the capitals cannot tell them apart, the words around them can.
    web = lexicon.find(tokens("From server-rendered PHP templates to a smaller DOM and a better LCP"), "")
    assert not web.counted and {"php", "dom", "lcp"} <= {e.key for e in web.ambiguous}
    text = "PHP on the egress PE: explicit null for our LDP labels"
    mpls = lexicon.find(tokens(text), text)
    assert "php" in {e.key for e in mpls.counted} and mpls.in_context


def test_ambiguous_words_count_only_beside_a_settled_name(lexicon: Lexicon) -> None:
    alone = lexicon.find(tokens("The switch by the door stopped clicking"), "")
    assert not alone.counted and "switch" in {e.key for e in alone.ambiguous}
    # A phrase the lexicon knows in its other sense is that sense, and no ambiguity.
    assert found(lexicon, "Replacing the wall switch in the hallway")[2] == {"wall switch"}
    beside = lexicon.find(tokens("The access switch dropped the VLAN after the upgrade"), "")
    assert "vlan" in {e.key for e in beside.counted} and beside.in_context
    # An ambiguous word is networking evidence beside a name, but no topic evidence.
    assert "community" not in lexicon.find(tokens("BGP and the open-source community"), "").topic_keys


def test_a_general_name_with_other_senses_counts_written_as_the_name(lexicon: Lexicon) -> None:
    assert "rust" in found(lexicon, "Lifetimes in Rust finally clicked")[2]
    assert "rust" not in found(lexicon, "rust on the old bike frame")[2]


def test_a_websites_certificate_chores_are_web_work_not_networking(lexicon: Lexicon) -> None:
    # certbot and Let's Encrypt renew a site's certificate: a blogger's hosting chore, where
    # TLS on a firewall or a RADIUS server is networking.
    text = "certbot stopped renewing: Let's Encrypt and my blog's expired certificate"
    site = lexicon.find(tokens(text), text)
    assert {"certbot", "let s encrypt"} <= {e.key for e in site.general}
    assert not {"certbot", "let s encrypt"} & {e.key for e in site.networking}
    text = "Auto-renewal failed: the SSL certificate of the shop expired on Sunday"
    assert {"auto-renewal", "ssl certificate"} <= {e.key for e in lexicon.find(tokens(text), text).general}
    text = "TLS inspection on the Palo Alto broke the finance app"
    assert "tls inspection" in {e.key for e in lexicon.find(tokens(text), text).networking}


def test_home_automation_is_not_network_automation(lexicon: Lexicon) -> None:
    home = lexicon.find(tokens("Home automation: the sensors on my home server"), "")
    assert {"home automation", "home server"} <= {e.key for e in home.general}
    assert "automation" not in {e.key for e in home.networking}


def test_home_storage_and_self_hosting_are_general_computing(lexicon: Lexicon) -> None:
    # A network blogger's NAS post (a ZFS pool plan: TrueNAS, RAIDZ2) named only a NAS
    # and a Samba share, both ambiguous, and was kept; its storage names say what it is.
    text = "Resilvering a RAIDZ2 pool on TrueNAS SCALE, and restic backups to Backblaze B2"
    storage = lexicon.find(tokens(text), text)
    assert {"raidz2", "truenas scale", "restic", "backblaze b2"} <= {e.key for e in storage.general}
    assert not storage.networking
    # The regional registries are networking names of no topic: an RIPE meeting report
    # is tagged by what it treats, not bgp for the name.
    text = "RIPE 91 daily report"
    assert {e.key: e.topics for e in lexicon.find(tokens(text), text).networking} == {"ripe": frozenset()}


def test_infrastructure_as_code_tools_are_networking_only_by_what_they_manage(lexicon: Lexicon) -> None:
    text = "Don't force-unlock Terraform state: a Pulumi and OpenTofu comparison"
    state = lexicon.find(tokens(text), text)
    assert {"terraform", "pulumi", "opentofu"} <= {e.key for e in state.general} and not state.networking
    text = "Terraform for the security group and the BGP peers of our transit gateway"
    assert lexicon.find(tokens(text), text).networking


def test_lexicon_errors_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text(
        "term\tkind\tdomain\ttopics\tsenses\tsource\nBGP\tprotocol\tnetworking\tbgp\n"
    )
    with pytest.raises(ModelError, match=r"a\.tsv, line 2: expected 6 tab-separated fields"):
        Lexicon.load(tmp_path)
    (tmp_path / "a.tsv").write_text("BGP\tprotocol\tnetwork\tbgp\t-\tRFC 4271\n")
    with pytest.raises(ModelError, match=r"a\.tsv, line 1: domain 'network' is neither networking"):
        Lexicon.load(tmp_path)
    (tmp_path / "a.tsv").write_text("BGP\tprotocol\tnetworking\tbpg\t-\tRFC 4271\n")
    with pytest.raises(ModelError, match=r"a\.tsv, line 1: unknown topics \['bpg'\]"):
        Lexicon.load(tmp_path, frozenset({"bgp"}))
    (tmp_path / "a.tsv").write_text("BGP\tprotocol\tnetworking\tbgp\t-\tRFC 4271\n")
    (tmp_path / "embedded.tsv").write_text("ospf\tOSPF\n")
    with pytest.raises(ModelError, match=r"embedded\.tsv: names no lexicon entry has: \['ospf'\]"):
        Lexicon.load(tmp_path)


def test_the_shipped_lexicon_files_are_well_formed() -> None:
    topics = frozenset(t.name for t in load_taxonomy())
    lexicon = Lexicon.load(LEXICON_DIR, topics)  # raises on any malformed line
    assert len(lexicon.entries) > 15000


@pytest.mark.parametrize(
    "term",
    [
        *("400ZR", "ZR+", "OpenZR+", "DWDM", "PTP", "ptp4l", "IEEE 1588", "boundary clock", "RADIUS"),
        *("NANOG", "network namespace", "netns", "veth"),
    ],
)
def test_what_labelling_gives_no_topic_names_none(lexicon: Lexicon, term: str) -> None:
    # models/LABELLING.md: optics and transport, PTP timing, RADIUS on a wired edge,
    # operators' meetings and Linux networking outside a cluster are no topic of their
    # own; an entry that names one would tag such posts datacenter, security, bgp or
    # kubernetes (every file an entry appears in counts).
    keys = lexicon.keys_in(tokens(term))
    assert keys and all(not lexicon.entries[key].topics for key in keys)


@pytest.mark.parametrize(
    ("term", "topics"),
    [
        ("L3VPN", {"mpls-sr"}),  # an L3VPN is mpls-sr; bgp only where BGP itself is worked
        ("RFC 4364", {"mpls-sr"}),
        ("Inter-AS Option B", {"mpls-sr"}),
        ("route target", {"evpn-vxlan", "mpls-sr"}),  # RD/RT concepts alone are no bgp
        ("route distinguisher", {"evpn-vxlan", "mpls-sr"}),
        ("VXLAN", {"evpn-vxlan"}),  # datacenter only where the fabric is studied too
        ("VTEP", {"evpn-vxlan"}),
        ("CCNP", set()),  # the certification, not a Kubernetes policy kind
        ("rp_filter", set()),  # reverse-path filtering: multicast RPF as often as security
    ],
)
def test_entries_name_the_topics_labelling_gives_them(lexicon: Lexicon, term: str, topics: set[str]) -> None:
    assert lexicon.entries[" ".join(tokens(term))].topics == topics


@pytest.mark.parametrize("term", ["ndots", "kube-dns", "NodeLocal DNSCache"])
def test_cluster_dns_is_kubernetes_not_dns(lexicon: Lexicon, term: str) -> None:
    # LABELLING.md: cluster DNS is kubernetes; dns only when resolvers outside are studied.
    # (The entry itself: "kube-dns" also names DNS, as a compound names its parts.)
    assert lexicon.entries[" ".join(tokens(term))].topics == {"kubernetes"}


def test_a_term_is_shown_as_plainly_written(lexicon: Lexicon) -> None:
    # "Network+" (the certification) and "network" are the same tokens; a post that says
    # "network" must not be explained as naming "Network+".
    text = "the network was down all morning"
    result = lexicon.find(tokens(text), text)
    assert [e.term for e in result.ambiguous if e.key == "network"] == ["network"]


def test_a_term_in_two_files_lists_each_of_its_senses_once(lexicon: Lexicon) -> None:
    # explain showed "neighbor: English word; person living next door; English word".
    for entry in lexicon.entries.values():
        parts = [part.strip() for part in entry.senses.split(";") if part.strip()]
        assert len(parts) == len(set(parts)), (entry.term, entry.senses)
    assert lexicon.entries["neighbor"].senses == "English word; person living next door"


def test_cabling_survey_and_community_names_are_networking(lexicon: Lexicon) -> None:
    # Posts on the physical plant, Wi-Fi surveys and the field's own shows and operator
    # groups named nothing the lexicon knew, or only ambiguous words (a rack, a cable).
    text = "Re-terminating the IDF: a 110 block, a cable certifier and a fresh Fluke Networks report"
    assert {"110 block", "cable certifier", "fluke networks"} <= {
        e.key for e in lexicon.find(tokens(text), text).networking
    }
    text = "Notes from UKNOF and an Ekahau Sidekick 2 validation survey of the new wing"
    named = {e.key: e.topics for e in lexicon.find(tokens(text), text).networking}
    assert named["uknof"] == frozenset() and named["ekahau sidekick 2"] == {"wireless"}
    assert named["validation survey"] == {"wireless"}
    # Phrases with an everyday sense count only beside a settled name, as other ambiguous
    # words do: tidying the cables behind a desk, or a book's spine and leaves.
    desk = lexicon.find(tokens("Cable management under my desk, with velcro and a tray"), "")
    assert "cable management" in {e.key for e in desk.ambiguous} and not desk.counted
    book = lexicon.find(tokens("Spine and leaf repairs on a cloth-bound notebook"), "")
    assert "spine and leaf" in {e.key for e in book.ambiguous} and not book.counted
    fabric = lexicon.find(tokens("A spine and leaf fabric with EVPN on every leaf"), "")
    assert "spine and leaf" in {e.key for e in fabric.counted}


def test_a_taxonomy_term_list_written_as_one_string_is_refused(tmp_path: Path) -> None:
    # `names: is-is` would be read letter by letter: "i", "s" and "-" each a name of igp.
    path = tmp_path / "topics.yaml"
    path.write_text(
        "topics:\n  - name: igp\n    description: d\n    covers: c\n    keywords: [ospf]\n    names: is-is\n",
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match=r"topics\.yaml: topic 'igp': `names` must be a list of terms"):
        load_taxonomy(path)
    path.write_text(path.read_text(encoding="utf-8").replace("names: is-is", 'names: ["is-is"]'))
    assert load_taxonomy(path)[0].names == ("is-is",)
    # `under` names topics of the taxonomy: a misspelt one would silently never apply.
    path.write_text(path.read_text(encoding="utf-8") + '    under: ["multicats"]\n', encoding="utf-8")
    with pytest.raises(ModelError, match=r"topic 'igp': `under` names no topic of the taxonomy: multicats"):
        load_taxonomy(path)
