"""The update run end to end: real server, real SQLite file, injected clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import Clock, WriteConfig, fixture_bytes, serve_fixture
from feedgen import Item, rss

from aggregator.feedserver import FeedServer, Route
from aggregator.feedstatus import feed_status
from aggregator.pipeline import run_update, update
from aggregator.store import Store
from aggregator.types import Outcome


def outcomes(summary) -> dict[str, Outcome]:
    return {o.url.rsplit("/", 1)[-1]: o.outcome for o in summary.outcomes}


def test_every_kind_of_feed_in_one_run(server: FeedServer, write_config: WriteConfig, clock: Clock) -> None:
    serve_fixture(server, "/rss2.xml", "rss2.xml", etag='"1"')
    serve_fixture(server, "/rss1.rdf", "rss1.rdf")
    serve_fixture(server, "/atom.xml", "atom.xml", gzip=True)
    serve_fixture(server, "/podcast.xml", "podcast.xml")
    serve_fixture(server, "/malformed.xml", "malformed.xml")
    server.routes["/gone.xml"] = Route(status=410)
    server.routes["/html"] = Route(body=b"<html><body>not a feed</body></html>", content_type="text/html")
    config = write_config(
        [
            "/rss2.xml",
            "/rss1.rdf",
            "/atom.xml",
            "/podcast.xml",
            "/malformed.xml",
            "/gone.xml",
            "/html",
            "/missing.xml",
        ]
    )
    with Store(config.database) as store:
        summary = update(config, store, clock=clock)
        assert outcomes(summary) == {
            "rss2.xml": Outcome.OK,
            "rss1.rdf": Outcome.OK,
            "atom.xml": Outcome.OK,
            "podcast.xml": Outcome.OK,
            "malformed.xml": Outcome.OK,
            "gone.xml": Outcome.GONE,
            "html": Outcome.ERROR,
            "missing.xml": Outcome.ERROR,
        }
        assert summary.new == store.count_posts() == 3 + 2 + 2 + 2 + 2
        log = list(store.db.query("SELECT outcome, count(*) n FROM fetch_log GROUP BY outcome"))
        assert {r["outcome"]: r["n"] for r in log} == {"ok": 5, "gone": 1, "error": 2}
        feeds = {r["url"].rsplit("/", 1)[-1]: r for r in store.feeds()}
        assert feeds["rss2.xml"]["etag"] == '"1"'
        assert feeds["html"]["last_error"].startswith("not an RSS or Atom feed")
        assert feeds["missing.xml"]["last_error"] == "HTTP 404 Not Found"
        assert feeds["malformed.xml"]["last_warning"].startswith("malformed XML")

        clock.now += timedelta(minutes=30)
        second = update(config, store, clock=clock)
        got = outcomes(second)
        assert got["rss2.xml"] is Outcome.NOT_MODIFIED
        assert got["gone.xml"] is Outcome.SKIPPED  # 410: not asked again
        assert got["missing.xml"] is Outcome.ERROR  # backoff of 15 min has passed
        assert second.new == 0 and store.count_posts() == 11


def test_failing_feed_backs_off_and_is_skipped_until_due(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/err"] = Route(status=500)
    config = write_config(["/err"])
    with Store(config.database) as store:
        for expected_errors, wait in ((1, 15), (2, 30), (3, 60)):
            assert outcomes(update(config, store, clock=clock))["err"] is Outcome.ERROR
            row = store.feeds()[0]
            assert row["consecutive_errors"] == expected_errors
            assert row["next_fetch"] == (clock.now + timedelta(minutes=wait)).isoformat(timespec="seconds")
            clock.now += timedelta(minutes=wait - 1)
            assert outcomes(update(config, store, clock=clock))["err"] is Outcome.SKIPPED
            clock.now += timedelta(minutes=1)
        hits = server.hits("/err")
        server.routes["/err"] = Route(body=fixture_bytes("rss2.xml"))
        assert outcomes(update(config, store, clock=clock))["err"] is Outcome.OK
        assert server.hits("/err") == hits + 1
        assert store.feeds()[0]["consecutive_errors"] == 0


def test_retry_after_is_honoured_for_that_feed_only(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/busy"] = Route(status=429, headers={"Retry-After": "7200"})
    serve_fixture(server, "/fine", "rss2.xml")
    config = write_config(["/busy", "/fine"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        clock.now += timedelta(hours=1)
        got = outcomes(update(config, store, clock=clock))
        assert got == {"busy": Outcome.SKIPPED, "fine": Outcome.NOT_MODIFIED}
        assert server.hits("/busy") == 1
        clock.now += timedelta(hours=1, minutes=1)
        assert outcomes(update(config, store, clock=clock))["busy"] is Outcome.ERROR
        assert server.hits("/busy") == 2


def test_a_feed_is_not_fetched_while_its_server_says_it_is_fresh(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    body = rss(Item("IGMP snooping", guid="1"))
    server.routes["/f"] = Route(body=body, etag='"v1"', headers={"Cache-Control": "max-age=3600"})
    config = write_config(["/f"], fetch="max_fresh_wait: 86400")
    with Store(config.database) as store:
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.OK
        clock.now += timedelta(minutes=30)
        summary = update(config, store, clock=clock)
        assert outcomes(summary)["f"] is Outcome.SKIPPED and server.hits("/f") == 1
        assert "fresh until 2026-11-24 13:00 UTC by Cache-Control: max-age=3600" in (
            summary.outcomes[0].error or ""
        )
        status = feed_status(store.feeds()[0], clock.now)
        assert status.label == "ok; fresh until then by Cache-Control: max-age=3600"
        assert status.next_fetch == clock.now + timedelta(minutes=30)
        clock.now += timedelta(minutes=31)
        # The 304 says the same, so the feed waits another hour; --force asks at once.
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.NOT_MODIFIED
        clock.now += timedelta(minutes=10)
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.SKIPPED
        assert outcomes(update(config, store, clock=clock, force=True))["f"] is Outcome.NOT_MODIFIED
        assert server.hits("/f") == 3


def test_a_feeds_ttl_holds_it_back_through_the_304s_that_follow(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    body = rss(Item("OSPF areas", guid="1")).replace(b"<channel>", b"<channel><ttl>45</ttl>", 1)
    server.routes["/f"] = Route(body=body, etag='"v1"')
    config = write_config(["/f"], fetch="max_fresh_wait: 86400")
    with Store(config.database) as store:
        update(config, store, clock=clock)
        clock.now += timedelta(minutes=40)
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.SKIPPED
        clock.now += timedelta(minutes=6)
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.NOT_MODIFIED
        assert store.feeds()[0]["fresh_by"] == "the feed's <ttl>45</ttl>"
        clock.now += timedelta(minutes=40)
        assert outcomes(update(config, store, clock=clock))["f"] is Outcome.SKIPPED
    assert server.hits("/f") == 2


def test_max_fresh_wait_bounds_what_a_server_asks(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A CDN that marks everything fresh for a year holds the feed back for at most
    # fetch.max_fresh_wait; 0, the default, fetches every run whatever the server says.
    year = {"Cache-Control": "max-age=31536000"}
    server.routes["/f"] = Route(body=rss(Item("BGP", guid="1")), headers=year)
    runs = (("600", 9, False), ("600", 11, True), ("0", 1, True), (None, 1, True))
    for i, (setting, minutes, fetched) in enumerate(runs):
        fetch = f"max_fresh_wait: {setting}" if setting is not None else ""
        config = write_config(["/f"], extra=f"database: run{i}.db\n", fetch=fetch)
        with Store(config.database) as store:
            update(config, store, clock=clock)
            hits = server.hits("/f")
            later = Clock(clock.now + timedelta(minutes=minutes))
            got = outcomes(update(config, store, clock=later))["f"]
            assert (got is not Outcome.SKIPPED) is fetched, (setting, minutes, got)
            assert server.hits("/f") == hits + fetched


def test_a_lowered_max_fresh_wait_takes_effect_at_the_next_run(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    year = {"Cache-Control": "max-age=31536000"}
    server.routes["/f"] = Route(body=rss(Item("BGP", guid="1")), headers=year)
    config = write_config(["/f"], fetch="max_fresh_wait: 604800")
    with Store(config.database) as store:
        update(config, store, clock=clock)  # held back a week
        clock.now += timedelta(minutes=20)
        lowered = write_config(["/f"], fetch="max_fresh_wait: 600")
        assert outcomes(update(lowered, store, clock=clock))["f"] is not Outcome.SKIPPED
        assert server.hits("/f") == 2
        clock.now += timedelta(minutes=5)  # held back again, 10 minutes now
        assert outcomes(update(lowered, store, clock=clock))["f"] is Outcome.SKIPPED
        off = write_config(["/f"], fetch="max_fresh_wait: 0")
        assert outcomes(update(off, store, clock=clock))["f"] is not Outcome.SKIPPED
        assert server.hits("/f") == 3


def test_permanent_redirect_is_suggested_not_applied(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    serve_fixture(server, "/new.xml", "rss2.xml")
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    config = write_config(["/old.xml"])
    before = Path(config.path).read_text()
    with Store(config.database) as store:
        update(config, store, clock=clock)
        row = store.feeds()[0]
    assert row["url"] == server.url("/old.xml")
    assert row["redirect_url"] == server.url("/new.xml")
    assert Path(config.path).read_text() == before


def test_changed_feed_updates_posts_and_publisher_edits_do_not_duplicate(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    link = "https://blog.example.net/2026/11/igmp/"
    server.routes["/f"] = Route(body=rss(Item("IGMP snooping", guid="1", link=link)))
    config = write_config(["/f"])
    with Store(config.database) as store:
        assert update(config, store, clock=clock).new == 1
        server.routes["/f"] = Route(
            body=rss(Item("IGMP snooping, fixed", guid="2", link=link + "?utm_source=x"))
        )
        clock.now += timedelta(hours=1)
        second = update(config, store, clock=clock)
        assert (second.new, second.updated) == (0, 1)
        assert [p["title"] for p in store.posts()] == ["IGMP snooping, fixed"]


def test_a_feed_that_mints_a_new_guid_on_every_request_is_not_stored_again_each_run(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # Some publishers' feeds mint every item's guid (and a session parameter in its link)
    # per request: the same posts, same titles, same dates, under new identifiers.
    config = write_config(["/f"])
    with Store(config.database) as store:
        for run in range(3):
            server.routes["/f"] = Route(
                body=rss(
                    Item("OSPF areas in depth", guid=f"urn:uuid:{run}-a"),
                    Item(
                        "BGP route reflection",
                        guid=f"urn:uuid:{run}-b",
                        link=f"https://blog.example.net/post?sid={run}",
                        date="Sun, 15 Nov 2026 08:00:00 GMT",
                    ),
                )
            )
            update(config, store, clock=clock)
            clock.now += timedelta(hours=1)
        titles = sorted(p["title"] for p in store.posts())
        assert titles == ["BGP route reflection", "OSPF areas in depth"]
        # The post follows its newest identifiers, as for a guid churned under one link.
        assert {p["guid"] for p in store.posts()} == {"urn:uuid:2-a", "urn:uuid:2-b"}


def test_parse_pool_is_used_for_larger_runs(server: FeedServer, write_config: WriteConfig) -> None:
    # Enough feeds to start worker processes: results must be the same as in-process.
    paths = []
    for i in range(20):
        server.routes[f"/f{i}"] = Route(body=rss(*(Item(f"Post {i}-{j}", guid=f"{i}-{j}") for j in range(5))))
        paths.append(f"/f{i}")
    config = write_config(paths)
    summary = run_update(config)
    assert summary.count(Outcome.OK) == 20 and summary.new == 100


def test_a_temporary_redirect_does_not_make_relative_atom_ids_new_posts(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # Episodes whose <id> is relative ("1000") and whose links all go to the show's page:
    # resolved against where a CDN's 302 led, the ids changed, and every episode was
    # stored again. Links resolve there; ids against the configured URL.
    entries = "".join(
        f"<entry><id>{1000 + n}</id><title>Episode {n}</title><link href='/show/'/>"
        f"<updated>2026-11-{10 + n}T08:00:00Z</updated><content type='html'>Notes for episode {n}</content>"
        f"<link rel='enclosure' href='ep{n}.mp3' type='audio/mpeg' length='1'/></entry>"
        for n in range(3)
    )
    body = (
        "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Show</title>"
        f"<id>urn:show</id><updated>2026-11-20T08:00:00Z</updated>{entries}</feed>"
    ).encode()
    server.routes["/t/show.atom"] = Route(body=body, content_type="application/atom+xml")
    server.routes["/cdn/show.atom"] = Route(body=body, content_type="application/atom+xml")
    config = write_config([("/t/show.atom", "Show")])
    with Store(config.database) as store:
        assert update(config, store, clock=clock).new == 3
        server.routes["/t/show.atom"] = Route(status=302, headers={"Location": "/cdn/show.atom"})
        clock.now += timedelta(hours=1)
        assert update(config, store, clock=clock, force=True).new == 0
        posts = list(store.posts())
        assert len(posts) == 3
        assert {p["guid"] for p in posts} == {server.url(f"/t/{1000 + n}") for n in range(3)}


def test_taking_the_redirect_suggestion_keeps_the_feed_history(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    serve_fixture(server, "/new.xml", "rss2.xml")
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    config = write_config([("/old.xml", "Blog")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        ids = sorted(p["id"] for p in store.posts())
    config = write_config([("/new.xml", "Blog")])  # the owner applies the suggestion
    with Store(config.database) as store:
        clock.now += timedelta(hours=1)
        summary = update(config, store, clock=clock)
        assert summary.new == 0
        assert sorted(p["id"] for p in store.posts()) == ids
        assert [f["url"] for f in store.feeds()] == [server.url("/new.xml")]
        assert store.feeds()[0]["redirect_url"] is None


def test_taking_the_suggestion_spelt_without_its_slash_keeps_the_feed_history(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # The suggestion is /feed/; the owner writes /feed, which `check` calls the same URL.
    serve_fixture(server, "/feed/", "rss2.xml")
    serve_fixture(server, "/feed", "rss2.xml")
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/feed/"})
    config = write_config([("/old.xml", "Blog")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        ids = sorted(p["id"] for p in store.posts())
    config = write_config([("/feed", "Blog")])
    with Store(config.database) as store:
        clock.now += timedelta(hours=1)
        assert update(config, store, clock=clock).new == 0
        assert sorted(p["id"] for p in store.posts()) == ids
        assert [f["url"] for f in store.feeds()] == [server.url("/feed")]


def test_the_same_feed_url_spelt_otherwise_keeps_the_feed_history(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # `check` calls https://host/feed and https://host/feed/ one feed: so must the store,
    # or the owner who adds a slash gets every post again (and in the next digest).
    serve_fixture(server, "/blog/feed", "rss2.xml")
    serve_fixture(server, "/blog/feed/", "rss2.xml")
    config = write_config([("/blog/feed", "Blog")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        ids = sorted(p["id"] for p in store.posts())
    config = write_config([("/blog/feed/", "Blog")])
    with Store(config.database) as store:
        clock.now += timedelta(hours=1)
        summary = update(config, store, clock=clock)
        assert summary.new == 0
        assert sorted(p["id"] for p in store.posts()) == ids
        assert [f["url"] for f in store.feeds()] == [server.url("/blog/feed/")]


def test_identical_body_without_validators_is_not_parsed_again(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    serve_fixture(server, "/plain.xml", "rss2.xml")  # no ETag, no Last-Modified
    config = write_config(["/plain.xml"])
    with Store(config.database) as store:
        assert update(config, store, clock=clock).new == 3
        clock.now += timedelta(hours=1)
        second = update(config, store, clock=clock)
        assert outcomes(second)["plain.xml"] is Outcome.NOT_MODIFIED
        assert store.feeds()[0]["last_status"] == 200
        server.routes["/plain.xml"] = Route(
            body=fixture_bytes("rss2.xml").replace(b"OSPF stub", b"OSPF NSSA")
        )
        third = update(config, store, clock=clock)
        assert (outcomes(third)["plain.xml"], third.updated) == (Outcome.OK, 1)
        forced = update(config, store, clock=clock, force=True)
        assert outcomes(forced)["plain.xml"] is Outcome.OK  # --force parses even the same bytes


def test_only_the_named_feeds_are_fetched(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    serve_fixture(server, "/a.xml", "rss2.xml")
    serve_fixture(server, "/b.xml", "atom.xml")
    config = write_config([("/a.xml", "Alpha"), ("/b.xml", "Beta")])
    with Store(config.database) as store:
        summary = update(config, store, clock=clock, only=["Beta"])
        assert [o.url for o in summary.outcomes] == [server.url("/b.xml")]
        assert server.hits("/a.xml") == 0
        summary = update(config, store, clock=clock, only=[server.url("/a.xml")])
        assert [o.url for o in summary.outcomes] == [server.url("/a.xml")]


def test_a_feed_that_cannot_be_stored_fails_alone(
    server: FeedServer, write_config: WriteConfig, clock: Clock, monkeypatch
) -> None:
    # Feeds are stored in batches, one transaction each; one feed failing to store must
    # not take the others of its batch with it.
    for name in ("a", "b", "c"):
        serve_fixture(server, f"/{name}.xml", "rss2.xml", etag='"1"')
    config = write_config(["/a.xml", "/b.xml", "/c.xml"])
    original = Store._store_entries

    def broken(self, feed_url, *args, **kwargs):
        if feed_url.endswith("/b.xml"):
            raise RuntimeError("disk said no")
        return original(self, feed_url, *args, **kwargs)

    monkeypatch.setattr(Store, "_store_entries", broken)
    with Store(config.database) as store:
        summary = update(config, store, clock=clock)
        assert outcomes(summary) == {"a.xml": Outcome.OK, "b.xml": Outcome.ERROR, "c.xml": Outcome.OK}
        feeds = {r["url"].rsplit("/", 1)[-1]: r for r in store.feeds()}
        assert feeds["b.xml"]["last_error"] == "could not store: RuntimeError: disk said no"
        assert feeds["b.xml"]["etag"] is None and feeds["a.xml"]["etag"] == '"1"'  # b: fetched again
        assert store.count_posts() == 6


def test_validators_with_non_ascii_bytes_are_echoed_and_never_stop_the_feed(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A PHP site formatting Last-Modified in its locale (German "Mär"), a server putting
    # a Latin-1 byte in its ETag (obs-text, which RFC 9110 allows in an entity-tag): the
    # next request must carry these bytes back as they came, and never fail to go out.
    server.routes["/de.xml"] = Route(
        body=rss(Item("Ein Beitrag", guid="de-1")), last_modified="Mi, 04 Mär 2026 10:00:00 GMT"
    )
    server.routes["/etag.xml"] = Route(body=rss(Item("Un billet", guid="fr-1")), etag='"café"')
    config = write_config(["/de.xml", "/etag.xml"])
    with Store(config.database) as store:
        assert update(config, store, clock=clock).new == 2
        for _run in range(2):
            clock.now += timedelta(hours=1)
            summary = update(config, store, clock=clock)
            assert outcomes(summary) == {"de.xml": Outcome.NOT_MODIFIED, "etag.xml": Outcome.NOT_MODIFIED}
            assert all(o.status == 304 for o in summary.outcomes)
        assert [f["consecutive_errors"] for f in store.feeds()] == [0, 0]
    sent = {path: headers for path, headers in server.requests}
    assert sent["/de.xml"]["if-modified-since"] == "Mi, 04 Mär 2026 10:00:00 GMT"
    assert sent["/etag.xml"]["if-none-match"] == '"café"'


def test_an_absurd_retry_after_is_honoured_up_to_a_week(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A year (a misconfigured server, or a unit mistaken) would silence the feed for good.
    server.routes["/busy"] = Route(status=503, headers={"Retry-After": str(365 * 24 * 3600)})
    config = write_config(["/busy"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        assert store.feeds()[0]["next_fetch"] == (clock.now + timedelta(days=7)).isoformat()
        clock.now += timedelta(days=7) - timedelta(minutes=1)
        assert outcomes(update(config, store, clock=clock))["busy"] is Outcome.SKIPPED
        clock.now += timedelta(minutes=1)
        assert outcomes(update(config, store, clock=clock))["busy"] is Outcome.ERROR
        assert server.hits("/busy") == 2


def test_feeds_queued_behind_a_slow_host_leave_the_runs_slots_to_other_hosts(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # One request at a time per host, three in the run: six feeds on a slow host must
    # not take all three slots while they wait their host's turn, holding up the feed
    # of another host (the same server, named differently) until most of them are done.
    body = rss(Item("OSPF stub areas", guid="s", link="https://a.example.net/s"))
    slow = [f"/slow{i}.xml" for i in range(6)]
    for path in slow:
        server.routes[path] = Route(body=body, delay=0.3)
    server.routes["/fast.xml"] = Route(body=body)
    other_host = f"http://localhost:{server.port}/fast.xml"
    config = write_config([*slow, other_host], fetch="per_host: 1\nconcurrency: 3")
    with Store(config.database) as store:
        summary = update(config, store, clock=clock)
    assert set(outcomes(summary).values()) == {Outcome.OK}
    order = [path for path, _headers in server.requests]
    assert order.index("/fast.xml") <= 1, order
