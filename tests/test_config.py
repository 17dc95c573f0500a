"""feeds.yaml: validated once, every problem named with file, line, key and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import load_config, read_yaml
from aggregator.errors import ConfigError
from aggregator.types import FeedKind

ROOT = Path(__file__).parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    return info.value.problems


def test_committed_feeds_yaml_lists_real_networking_feeds() -> None:
    config = load_config(ROOT / "feeds.yaml")
    assert len(config.feeds) >= 25
    urls = {f.url for f in config.feeds}
    for expected in ("ipspace.net", "packetpushers", "cloudflare", "apnic", "kubernetes.io"):
        assert any(expected in u for u in urls), expected
    assert any(f.kind is FeedKind.PODCAST for f in config.feeds)
    assert all(u.startswith("https://") for u in urls)


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: https://blog.example.net/feed\n    name: Blog\n")
    config = load_config(path)
    assert config.languages == ("en",)
    assert config.fetch.per_host == 2
    assert config.fetch.max_bytes == 10_000_000
    assert config.fetch.allow_private_addresses is False
    assert config.feeds[0].kind is FeedKind.BLOG
    # The database sits beside the config, not in the working directory (cron runs in $HOME).
    assert config.database == str(tmp_path / "aggregator.db")


def test_duplicate_url_names_both_lines(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "feeds:\n"
        "  - url: https://blog.example.net/feed\n    name: A\n"
        "  - url: https://BLOG.example.net/feed\n    name: B\n",
    )
    assert found == [
        "line 4, feeds[1] (B) url: 'https://BLOG.example.net/feed' is listed twice "
        "(also on line 2); remove one entry"
    ]


def test_non_http_url_unknown_key_and_bad_kind_reported_together(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "feeds:\n"
        "  - url: ftp://files.example.net/feed.xml\n    name: Files\n"
        "  - url: https://pod.example.net/rss\n    name: Pod\n    kind: vlog\n    topcs: [bgp]\n",
    )
    text = "\n".join(found)
    assert "line 2, feeds[0] (Files) url: 'ftp://files.example.net/feed.xml' is not an http(s) URL" in text
    assert "line 6, feeds[1] (Pod) kind: is 'vlog'; use blog or podcast" in text
    assert "line 7, feeds[1] (Pod) topcs: unknown key 'topcs'; did you mean 'topics'?" in text


def test_unknown_top_level_and_fetch_keys(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "fetch:\n  per_hots: 3\n  timeout: -1\nfeed:\n  - url: https://a.example.net/\n",
    )
    text = "\n".join(found)
    assert "line 2, fetch: unknown key 'per_hots'; did you mean 'per_host'?" in text
    assert "line 3, fetch.timeout: must be a number of seconds > 0, not -1" in text
    assert "line 4, top level: unknown key 'feed'; did you mean 'feeds'?" in text


@pytest.mark.parametrize("value", ["-60", ".nan", ".inf", "8000000", "'1h'"])
def test_max_fresh_wait_is_seconds_up_to_a_week(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, f"fetch:\n  max_fresh_wait: {value}\nfeeds: []\n")
    assert any(
        line.startswith(
            "line 2, fetch.max_fresh_wait: must be a number of seconds from 0 (fetch every run) to 604800"
        )
        for line in found
    ), found


def test_a_user_agent_must_be_printable_ascii_as_an_http_header(tmp_path: Path) -> None:
    found = problems(tmp_path, 'fetch:\n  user_agent: "Planète Réseau/1.0"\nfeeds: []\n')
    assert found == [
        "line 2, fetch.user_agent: must be printable ASCII (a header value), not 'è': write it in ASCII"
    ], found


def test_missing_name_and_url(tmp_path: Path) -> None:
    found = problems(tmp_path, "feeds:\n  - name: Nameless\n  - url: https://a.example.net/feed\n")
    text = "\n".join(found)
    assert "line 2, feeds[0] (Nameless) url: missing" in text
    assert "line 3, feeds[1] name: missing or empty" in text


def test_duplicate_yaml_key_and_broken_yaml(tmp_path: Path) -> None:
    found = problems(tmp_path, "feeds: []\nfeeds: []\n")
    assert found == ["line 2: key 'feeds' appears twice (first on line 1); keep one"]
    found = problems(tmp_path, "feeds:\n  - url: [unclosed\n")
    assert found[0].startswith("line 2: not valid YAML (a flow sequence opened here is not closed)")


def test_allow_private_addresses_forms(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "fetch:\n  allow_private_addresses: ['127.0.0.1:8765', '10.0.0.0/8', '[::1]:80']\n"
        "feeds:\n  - url: http://10.1.2.3/feed\n    name: Lab\n    allow_private_addresses: true\n"
    )
    config = load_config(path)
    assert config.fetch.allow_private_addresses == ("127.0.0.1:8765", "10.0.0.0/8", "[::1]:80")
    assert config.feeds[0].allow_private_addresses is True
    found = problems(tmp_path, "fetch:\n  allow_private_addresses: ['intranet.local:80']\nfeeds: []\n")
    assert "line 2, fetch.allow_private_addresses: 'intranet.local:80' is not an IP address" in found[0]


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; pass --config PATH or set AGGREGATOR_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_check_command_prints_summary_and_fails_on_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(cli, ["--config", str(ROOT / "feeds.yaml"), "check"])
    assert good.exit_code == 0, good.output
    assert "OK" in good.output and "blogs" in good.output and "podcasts" in good.output
    assert "fetched every run (max_fresh_wait 0)" in good.output  # the shipped feeds.yaml
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - url: javascript:alert(1)\n    name: X\n")
    result = runner.invoke(cli, ["--config", str(bad), "check"])
    assert result.exit_code == 2
    assert f"{bad}: 1 problem(s)" in result.output
    assert "line 2, feeds[0] (X) url:" in result.output


def test_check_says_nothing_is_ok_when_a_topic_name_is_unknown(tmp_path: Path) -> None:
    # An unknown topic is a problem of feeds.yaml: check must not call the file OK first.
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - url: https://a.example.net/feed\n    name: A\n    topics: [bgp, multicats]\n"
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2, result.output
    assert "unknown topic 'multicats'" in result.output
    assert "OK" not in result.output


def test_three_letter_languages_are_read_as_the_codes_screening_gives(tmp_path: Path) -> None:
    # Screening names a post's language "en", "de": `languages: [eng]` kept as "eng" would
    # drop every English post as non_english.
    path = tmp_path / "feeds.yaml"
    path.write_text("languages: [eng, DE, fil]\nfeeds: []\n")
    assert load_config(path).languages == ("en", "de", "fil")
    assert any("languages" in p and "'und'" in p for p in problems(tmp_path, "languages: [und]\nfeeds: []\n"))


def test_site_podcast_image_defaults_to_bundled_artwork_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("site:\n  title: Planet\n  url: https://planet.example.net/\nfeeds: []\n")
    assert load_config(path).site.podcast_image == "static/podcast.png"
    path.write_text(
        "site:\n  url: https://planet.example.net/\n"
        "  podcast_image: https://cdn.example.net/art/cover-3000.jpg\nfeeds: []\n"
    )
    assert load_config(path).site.podcast_image == "https://cdn.example.net/art/cover-3000.jpg"
    found = problems(
        tmp_path,
        "site:\n  url: https://planet.example.net/\n"
        "  podcast_image: ftp://cdn.example.net/a.png\nfeeds: []\n",
    )
    assert found == [
        "line 3, site.podcast_image: 'ftp://cdn.example.net/a.png' is not an http(s) URL; "
        "podcast directories fetch the artwork over http(s)"
    ]
    found = problems(tmp_path, "site:\n  podcast_image: static/cover.svg\nfeeds: []\n")
    assert found[0].startswith("line 2, site.podcast_image: 'static/cover.svg' is not a .png or .jpg file;")
    assert "1400x1400 to 3000x3000 pixels" in found[0]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://a.example.net:99999/feed", "Port out of range 0-65535"),
        ("https://a.example.net:abc/feed", "Port could not be cast to integer value as 'abc'"),
        ("http://[::1/feed", "Invalid IPv6 URL"),
    ],
)
def test_malformed_url_is_a_problem_not_a_traceback(tmp_path: Path, url: str, why: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f'site:\n  url: "{url}"\nfeeds:\n  - url: "{url}"\n    name: A\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    fix = f"'{url}' is not a valid URL ({why}); write it as https://host[:port]/path"
    assert f"line 2, site.url: {fix}" in result.output
    assert f"line 4, feeds[0] (A) url: {fix}" in result.output


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (
            "http://exa mple.net/feed",
            "'exa mple.net' cannot be a host name; write the host as it is registered",
        ),
        ("https://a.example.net/a b/feed", None),
        ("https://a.example.net/fe\\ted", "has a line break or a control character in it; remove it"),
        ("https://\uff4c\uff4f\uff43\uff41\uff4c.example/feed", "is not a valid URL (Invalid IDNA hostname"),
    ],
)
def test_a_feed_url_the_fetcher_cannot_request_is_refused_by_check(
    tmp_path: Path, url: str, why: str | None
) -> None:
    text = f'feeds:\n  - url: "{url}"\n    name: A\n'
    if why is None:  # a space in a path is sent as %20: a feed that worked works on
        (tmp_path / "feeds.yaml").write_text(text)
        assert load_config(tmp_path / "feeds.yaml").feeds[0].url == url
        return
    found = problems(tmp_path, text)
    assert any(why in line and line.startswith("line 2, feeds[0] (A) url:") for line in found), found


def test_a_feed_name_is_one_line_of_text(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        'feeds:\n  - url: https://a.example.net/feed\n    name: "Lab\\nNotes"\n'
        "  - url: https://b.example.net/feed\n    name: 123\n"
        "  - url: https://c.example.net/feed\n    name: yes\n"
        '  - url: https://d.example.net/feed\n    name: "Tab\\there"\n',
    )
    assert found == [
        "line 3, feeds[0] (Lab Notes) name: must be on one line (it heads pages and emails)",
        "line 5, feeds[1] name: YAML reads it as a number, not text; put the name in quotes",
        "line 7, feeds[2] name: YAML reads it as true or false, not text; put the name in quotes",
        "line 9, feeds[3] (Tab here) name: has a control character such as a tab in it; remove it",
    ], found


@pytest.mark.parametrize("value", ["''", "12", "[a.db]"])
def test_an_empty_or_non_text_database_is_a_problem_not_the_default(tmp_path: Path, value: str) -> None:
    assert problems(tmp_path, f"database: {value}\nfeeds: []\n") == [
        "line 1, database: must be a file path such as aggregator.db (or leave the key out for that default)"
    ]


def test_same_feed_spelt_with_default_port_or_trailing_slash_is_a_duplicate(tmp_path: Path) -> None:
    # Each spelling would be fetched and its posts stored again under its own URL.
    found = problems(
        tmp_path,
        "feeds:\n"
        "  - url: https://blog.example.net/feed\n    name: A\n"
        "  - url: https://blog.example.net/feed/\n    name: B\n"
        "  - url: https://blog.example.net:443/feed\n    name: C\n"
        "  - url: http://blog.example.net:80/feed\n    name: D\n"
        "  - url: http://blog.example.net/feed\n    name: E\n"
        "  - url: https://blog.example.net:8443/feed\n    name: F\n",
    )
    assert found == [
        "line 4, feeds[1] (B) url: 'https://blog.example.net/feed/' is listed twice "
        "(also on line 2 as 'https://blog.example.net/feed'); remove one entry",
        "line 6, feeds[2] (C) url: 'https://blog.example.net:443/feed' is listed twice "
        "(also on line 2 as 'https://blog.example.net/feed'); remove one entry",
        "line 10, feeds[4] (E) url: 'http://blog.example.net/feed' is listed twice "
        "(also on line 8 as 'http://blog.example.net:80/feed'); remove one entry",
    ]


def test_a_tab_is_named_as_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n\t- url: https://a.example.net/feed\n\t  name: A\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert result.output == (
        f"aggregator: {path}: 1 problem(s) in the configuration:\n"
        "  - line 2: not valid YAML (a tab character at column 1); "
        "YAML indents with spaces only: replace the tab with spaces\n"
    )


def test_a_file_that_is_not_utf8_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"feeds:\n  - url: https://a.example.net/feed\n    name: Caf\xe9 Reseau\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert result.output == (
        f"aggregator: {path}: 1 problem(s) in the configuration:\n"
        "  - line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8 "
        "(an editor's 'Save with encoding', or iconv -f latin1 -t utf-8)\n"
    )


def test_site_search_posts_is_a_count_of_posts_or_zero(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("site:\n  search_posts: 0\nfeeds: []\n")
    assert load_config(path).site.search_posts == 0
    path.write_text("feeds: []\n")
    assert load_config(path).site.search_posts == 10_000
    for value in ("-1", "all", "true", "2.5"):
        found = problems(tmp_path, f"site:\n  search_posts: {value}\nfeeds: []\n")
        expected = "line 2, site.search_posts: must be a whole number from 0 (no search) to 1000000"
        assert found == [expected], value


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    # Nested aliases load small; the message that quoted the value took 1.5 GB and 27 s.
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    found = problems(tmp_path, "\n".join(levels) + "\nfetch: {timeout: *h}\nfeeds: []\n")
    assert found == [
        "its aliases (*name, <<: *name), expanded, add more than 100,000 values; "
        "write the values out instead of nesting aliases"
    ]


def test_merge_keys_that_multiply_a_small_file_are_refused(tmp_path: Path) -> None:
    # 68 KB: one anchored mapping of 300 keys merged into 1,000 feeds is 300,000 values.
    lines = ["defaults: &d", *[f"  k{i}: v" for i in range(300)], "feeds:"]
    for i in range(1000):
        lines += ["  - <<: *d", f"    url: https://e{i}.example.net/feed", f"    name: F{i}"]
    assert problems(tmp_path, "\n".join(lines) + "\n") == [
        "its aliases (*name, <<: *name), expanded, add more than 100,000 values; "
        "write the values out instead of nesting aliases"
    ]


def test_a_large_configuration_without_aliases_is_read(tmp_path: Path) -> None:
    # 25,000 feeds written out are 150,000 values: the alias limit counts only what aliases add.
    lines = ["feeds:"] + [
        f"  - {{name: Feed {i}, url: 'https://h{i}.example.net/feed/', language: en, topics: [bgp, igp]}}"
        for i in range(25_000)
    ]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert len(load_config(path).feeds) == 25_000


def test_nesting_too_deep_for_a_configuration_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert problems(tmp_path, "feeds: " + "[" * 400 + "]" * 400 + "\n") == [
        "nested too deeply to be a configuration; flatten it"
    ]


def test_a_merge_key_shares_settings_and_a_key_written_twice_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - &pod {name: Show A, url: 'https://a.example.net/feed', kind: podcast}\n"
        "  - <<: *pod\n"
        "    name: Show B\n"
        "    url: https://b.example.net/feed\n"
    )
    config = load_config(path)
    assert [(f.name, f.url, f.kind) for f in config.feeds] == [
        ("Show A", "https://a.example.net/feed", FeedKind.PODCAST),
        ("Show B", "https://b.example.net/feed", FeedKind.PODCAST),
    ]
    # A merge inside a merge's value, aliased again: its merged keys are not "written twice".
    nested = "a: &a {p: 1}\nx:\n  <<: &b {<<: *a, p: 5}\n  r: 3\nz: *b\n"
    assert read_yaml(nested, "f") == {
        "a": {"p": 1},
        "x": {"p": 1, "r": 3},
        "z": {"p": 5},
    }  # as PyYAML reads it
    twice = "feeds:\n  - name: A\n    url: https://a.example.net/feed\n    name: C\n"
    assert problems(tmp_path, twice) == ["line 4: key 'name' appears twice (first on line 2); keep one"]


def test_fetch_counts_have_upper_bounds(tmp_path: Path) -> None:
    # A billion per_host passed check and held the run lock for minutes building pools.
    text = (
        "fetch: {per_host: 1000000000, concurrency: 5000, parse_workers: 500, max_redirects: 99}\nfeeds: []\n"
    )
    assert problems(tmp_path, text) == [
        "line 1, fetch.per_host: must be a whole number from 1 to 1000, not 1000000000",
        "line 1, fetch.concurrency: must be a whole number from 1 to 1000, not 5000",
        "line 1, fetch.parse_workers: must be a whole number from 0 to 64, not 500",
        "line 1, fetch.max_redirects: must be a whole number from 0 to 20, not 99",
    ]


def test_the_owners_files_are_read_beside_feeds_yaml_through_a_symlink(tmp_path: Path) -> None:
    # The database and the site followed the symlink and overrides.yaml did not: the
    # owner's deny rules were silently not applied, and denied posts were published.
    real, linked = tmp_path / "real", tmp_path / "etc"
    real.mkdir()
    linked.mkdir()
    (real / "feeds.yaml").write_text("feeds:\n  - {name: A, url: 'https://a.example.net/feed'}\n")
    (real / "overrides.yaml").write_text("deny:\n  - url: '*casino*'\n")
    (linked / "feeds.yaml").symlink_to(real / "feeds.yaml")
    result = CliRunner().invoke(cli, ["--config", str(linked / "feeds.yaml"), "check"])
    assert result.exit_code == 0, result.output
    assert f"overrides: 0 allow, 1 deny ({real / 'overrides.yaml'})" in result.output


def test_an_owners_file_that_cannot_be_read_is_named_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {name: A, url: 'https://a.example.net/feed'}\n")
    (tmp_path / "overrides.yaml").mkdir()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "feeds.yaml"), "check"])
    assert result.exit_code == 2
    assert f"{tmp_path / 'overrides.yaml'}: 1 problem(s)" in result.output
    assert "is a folder, not a file; move it away or make it a file" in result.output


def test_a_post_id_of_digits_alone_is_read_as_written_in_the_owners_files(tmp_path: Path) -> None:
    # One id in about 12,000 is digits only: YAML read it as a number (an octal one with a
    # leading zero), and the override was refused or matched no post.
    from aggregator.overrides import load_overrides
    from aggregator.topics.corrections import load_corrections

    (tmp_path / "overrides.yaml").write_text("allow:\n  - post: 01234567012345670123\n")
    overrides = load_overrides(tmp_path / "overrides.yaml")
    assert overrides.decide("01234567012345670123", None, "https://a.example.net/feed") == "allow"
    (tmp_path / "corrections.yaml").write_text("- post: 98765432109876543210\n  add: [bgp]\n")
    corrections = load_corrections(tmp_path / "corrections.yaml", ("bgp", "igp"))
    assert [c.rule.value for c in corrections.items] == ["98765432109876543210"]


def test_a_home_folder_of_no_known_user_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert problems(tmp_path, "database: ~no-such-user-here/a.db\nfeeds: []\n") == [
        "line 1, database: '~no-such-user-here/a.db' names a home folder this system does not know; "
        "write the path out"
    ]
    site = (
        "site:\n  title: T\n  url: https://planet.example.net/\n  output: ~no-such-user-here/pub\nfeeds: []\n"
    )
    assert problems(tmp_path, site) == [
        "line 4, site.output: '~no-such-user-here/pub' names a home folder this system does not know; "
        "write the path out"
    ]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:secret@planet.example.net/", "has a user name or password in it"),
        ("https://planet.example.net/blog?x=1", "has a query (?...) or a fragment (#...)"),
        ("https://planet.example.net/#top", "has a query (?...) or a fragment (#...)"),
        ("https://planet.example.net/index.html", "names a page"),
        ("https://planet.example.net/%zz/", "has a % that starts no escape"),
    ],
)
def test_a_site_url_every_link_could_not_start_with_is_a_problem(tmp_path: Path, url: str, why: str) -> None:
    # Every published link starts with site.url: a password in it would be published,
    # a query would sit in the middle of every link.
    found = problems(tmp_path, f'site:\n  url: "{url}"\nfeeds: []\n')
    assert len(found) == 1 and found[0].startswith("line 2, site.url: ") and why in found[0]
    assert "secret" not in found[0]


def test_the_site_url_is_published_as_a_link_can_carry_it(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    for written, published in [
        ("https://Planet.Example.NET:443/our planet", "https://planet.example.net/our%20planet/"),
        ("https://münchen.example/", "https://xn--mnchen-3ya.example/"),
        ("http://planet.example.net:8080/p/", "http://planet.example.net:8080/p/"),
    ]:
        path.write_text(f'site:\n  url: "{written}"\n  podcast_image: /static/cover.png\nfeeds: []\n')
        site = load_config(path).site
        assert site.url == published
        # A path under site.url, also when written from the root: a site served from a
        # folder would otherwise point podcast directories at the host's root.
        assert site.podcast_image == "static/cover.png"
    path.write_text(
        'site:\n  url: "https://p.example.net/x/"\n  podcast_image: //cdn.example.net/c.png\nfeeds: []\n'
    )
    assert load_config(path).site.podcast_image == "//cdn.example.net/c.png"  # another host


def test_a_database_that_is_the_configuration_or_a_folder_is_a_problem(tmp_path: Path) -> None:
    for value, why in [
        ("feeds.yaml", "is the configuration itself, not a database"),
        ("overrides.yaml", "is overrides.yaml, not a database"),
        ("corrections.yaml", "is corrections.yaml, not a database"),
        (".", "is a folder; name a file in it"),
    ]:
        found = problems(tmp_path, f"database: {value}\nfeeds: []\n")
        assert len(found) == 1 and found[0].startswith("line 1, database: ") and why in found[0], found
    assert not (tmp_path / "overrides.yaml").exists()  # nothing was made of it


def test_an_empty_db_option_is_refused_not_a_new_database_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--db "$DB"` with DB unset: the runs would go on into a second, empty database.
    (tmp_path / "conf").mkdir()
    (tmp_path / "cwd").mkdir()
    (tmp_path / "conf" / "feeds.yaml").write_text("feeds: []\n")
    monkeypatch.chdir(tmp_path / "cwd")
    result = CliRunner().invoke(cli, ["--config", "../conf/feeds.yaml", "--db", "", "check"])
    assert result.exit_code == 2
    assert "--db: is empty; give the database's path" in result.output
    assert list((tmp_path / "cwd").iterdir()) == []


def test_a_feed_password_stays_out_of_configuration_messages(tmp_path: Path) -> None:
    url = "https://reader:hunter2@a.example.net/feed"
    found = problems(tmp_path, f"feeds:\n  - {{name: A, url: '{url}'}}\n  - {{name: B, url: '{url}'}}\n")
    assert found and "listed twice" in found[0]
    assert not any("hunter2" in p or "reader:" in p for p in found)
    # A password may hold @, # or ?: all of it stays out, also of a URL it makes invalid.
    for password in ("p@ss", "se#cret", "a?b@c"):
        bad = f"https://bob:{password}@a.example.net/feed"
        found = problems(tmp_path, f"feeds:\n  - {{name: A, url: '{bad}'}}\n  - {{name: B, url: '{bad}'}}\n")
        assert found and not any(password in p or "bob" in p for p in found), found


def test_values_yaml_reads_otherwise_than_written_get_the_fix(tmp_path: Path) -> None:
    # YAML 1.1: no (Norwegian) is false, 08 is no number, 010 is octal 8, 0x0A hexadecimal
    # and 7:30 base 60 (450). The message says why and how; none is taken for another hour.
    found = problems(
        tmp_path,
        "languages: [en, no]\nfeeds:\n  - {name: A, url: 'https://a.example.net/feed', language: no}\n"
        "digest: {from: p@example.net, subscribers: [{email: a@example.org, hour: 08},\n"
        "  {email: b@example.org, hour: 010}, {email: c@example.org, hour: 0x0A},\n"
        "  {email: d@example.org, hour: '7:30'}, {email: e@example.org, hour: 7:30}]}\n",
    )
    assert len(found) == 7
    assert all("put the code in quotes, 'no'" in p for p in found[:2])
    assert found[2].endswith("not '08'; write it without the leading zero: 8")
    assert found[3].endswith("not '010'; write it without the leading zero: 10")
    assert found[4].endswith("must be an hour from 0 to 23 (UTC), not '0x0A'")
    assert found[5].endswith("must be an hour from 0 to 23 (UTC), not '7:30'")
    assert found[6].endswith("must be an hour from 0 to 23 (UTC), not '7:30'")


def test_yaml_that_cannot_be_read_names_the_line_to_look_at(tmp_path: Path) -> None:
    # An unclosed quote ran to the end of the file, and the message named a line past it.
    assert problems(tmp_path, 'feeds:\n  - name: "A\n    url: https://a.example.net/\n') == [
        "line 2: not valid YAML (a quoted scalar opened here is not closed); check indentation and quoting"
    ]
    # A NUL: the message had no line and broke over two lines.
    (found,) = problems(tmp_path, "feeds:\n  - name: A\x00\n")
    assert found.startswith("line 2: a control character (U+0000) YAML does not allow") and "\n" not in found


def test_a_feeds_list_with_every_entry_commented_out_is_called_empty_at_its_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "languages: [en]\n\nfeeds:\n#  - {name: A, url: 'https://a.example.net/feed'}\n"
    )
    assert found == [
        "line 3, feeds: is empty; list the feeds under it, each with url and name "
        "(or write feeds: [] for none)"
    ]


def test_yaml_read_badly_gets_the_line_and_the_fix(tmp_path: Path) -> None:
    # The last feed without its colon: the line it is on, with libyaml's hint.
    last = "feeds:\n  - name: A\n    url: https://a.example.net/\n  - name: B\n    url https://b.example/\n"
    assert problems(tmp_path, last) == [
        "line 5: not valid YAML (could not find expected ':'); check indentation and quoting"
    ]
    # An unclosed quote in a file without a final newline.
    assert problems(tmp_path, 'feeds:\n  - name: "A\n    url: https://a.example.net/')[0].startswith(
        "line 2: not valid YAML (a quoted scalar opened here is not closed)"
    )
    # Notepad's "Unicode" is UTF-16: iconv from latin1 would make it worse.
    path = tmp_path / "feeds.yaml"
    path.write_bytes("feeds: []\n".encode("utf-16"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        "saved as UTF-16; save it as UTF-8 (an editor's 'Save with encoding', or iconv -f utf-16 -t utf-8)"
    ]


def test_one_language_written_twice_is_one_language(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("languages: [en, eng]\nfeeds: []\n")
    config = load_config(path)
    assert config.languages == ("en",) and config.site.language == "en"
    # A doubled slash before a path is a path under site.url; before a host name, a URL.
    path.write_text("site:\n  url: https://p.example.net/x/\n  podcast_image: //static/c.png\nfeeds: []\n")
    assert load_config(path).site.podcast_image == "static/c.png"
