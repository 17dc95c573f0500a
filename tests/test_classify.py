"""Topic tagging: the taxonomy, the tricky cases, and tags stored with scores and terms."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, WriteConfig
from feedgen import Item, rss

from aggregator.cards import MODEL_DIR
from aggregator.cli import cli
from aggregator.features.tokens import tokens
from aggregator.feedserver import FeedServer, Route
from aggregator.pipeline import update
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.topics.keywords import keyword_index
from aggregator.topics.model import TopicModel
from aggregator.topics.taxonomy import load_taxonomy


def tags(title: str, summary: str = "") -> set[str]:
    screener = Screener.load()
    (verdict,) = screener.screen([(title, summary, "en")])
    return {t.topic for t in verdict.tags}


def test_taxonomy_has_the_required_topics_with_descriptions() -> None:
    taxonomy = {t.name: t for t in load_taxonomy()}
    assert {"multicast", "bgp", "igp", "kubernetes"} <= set(taxonomy)
    assert len(taxonomy) >= 10
    assert all(t.description and t.covers and t.keywords.words for t in taxonomy.values())


def test_the_near_misses_of_the_issue() -> None:
    assert {"kubernetes", "bgp"} <= tags(
        "Calico in BGP mode", "Peering every node with the top-of-rack switches instead of an overlay."
    )
    assert "igp" in tags("An OSPF lab in containers", "Three FRR routers in containerlab, areas 0 and 1.")
    mdns = tags("Multicast DNS across VLANs", "Bonjour and mDNS reflectors for printers and AirPlay.")
    assert "dns" in mdns and "multicast" not in mdns
    assert "multicast" in tags("PIM sparse mode RP placement for a trading floor")


def test_multicast_dns_is_not_multicast_evidence() -> None:
    index = keyword_index(load_taxonomy())
    assert "multicast" in index.topics_in(tokens("IGMP snooping on the access switches"))
    assert "multicast" not in index.topics_in(tokens("multicast dns reflectors"))
    assert "multicast" in index.topics_in(tokens("IGMP joins break multicast dns reflectors"))
    assert "multicast" not in index.topics_in(tokens("Running a multicast-DNS gateway"))
    assert "multicast" in index.topics_in(tokens("IGMP-snooping breaks multicast-DNS"))


def test_the_parts_of_a_compound_word_are_keywords() -> None:
    """A writer's "BGP-EVPN", "LDP-IGP sync" or "OSPF/IS-IS" names the protocols as
    plainly as the words alone; keywords written with a dash stay whole."""
    index = keyword_index(load_taxonomy())
    assert {"bgp", "evpn-vxlan"} <= index.topics_in(tokens("A BGP-EVPN fabric in a weekend"))
    assert "igp" in index.topics_in(tokens("LDP-IGP synchronisation after a link flap"))
    assert "igp" in index.topics_in(tokens("OSPF/IS-IS: which one for the new core?"))
    assert "kubernetes" in index.topics_in(tokens("Per-pod egress gateways"))
    assert index.expand(tokens("IS-IS and PIM-SM/SSM")) == ["is-is", "and", "pim-sm/ssm", "pim-sm", "ssm"]
    assert "igp" not in index.topics_in(tokens("A rip-and-replace of the campus switches"))


def test_update_stores_tags_with_scores_and_terms(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/f.xml"] = Route(
        body=rss(
            Item(
                "IGMP snooping without a querier", guid="m1", body="<p>The video VLAN flooded every port.</p>"
            ),
            Item(
                "Cilium network policies per namespace", guid="k1", body="<p>Default deny in the cluster.</p>"
            ),
        )
    )
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        rows = {p["guid"]: json.loads(p["tags"]) for p in store.posts()}
        indexed = {(r["post_id"], r["topic"]) for r in store.db.query("SELECT * FROM post_topics")}
        posts = {p["guid"]: p["id"] for p in store.posts()}
    assert [t["topic"] for t in rows["m1"]] == ["multicast"]
    assert "igmp" in " ".join(rows["m1"][0]["terms"]) and rows["m1"][0]["score"] > 0.5
    assert "kubernetes" in [t["topic"] for t in rows["k1"]]
    assert (posts["m1"], "multicast") in indexed
    explained = CliRunner().invoke(cli, ["--config", config.path, "explain", posts["m1"]])
    assert "multicast" in explained.output and "score" in explained.output


def _a_post_with_a_second_topic_left_out() -> tuple[str, str, str, str]:
    """(title, text, main topic, left-out topic) of the first post of the team's evaluation
    sets that the current models keep with a topic that clears its own threshold but not
    the share of the main topic's probability a second one needs."""
    import numpy as np

    from aggregator.screen.text import screening_text
    from aggregator.topics.model import given

    screener = Screener.load()
    model = screener.topics
    assert model is not None and model.second_share
    rows = [
        json.loads(line)
        for name in ("eval_realistic.jsonl", "topics_eval.jsonl")
        for line in (MODEL_DIR / "data" / name).read_text(encoding="utf-8").splitlines()
    ]
    rows = [r for r in rows if r.get("summary") and r.get("expect", "keep") == "keep"]
    texts = [screening_text(r["title"], r["summary"]) for r in rows]
    reading, batch = screener.read(texts, [r["title"] for r in rows])
    probabilities = model.probabilities(batch, reading)
    tagged = given(probabilities, model.low, model.second_share)
    left_out = (probabilities >= model.low) & ~tagged
    for i in np.flatnonzero(left_out.any(axis=1)):
        row = rows[int(i)]
        if screener.screen([(row["title"], row["summary"], "en")])[0].keep:
            main = int((probabilities[i] * tagged[i]).argmax())
            other = int(np.flatnonzero(left_out[i])[0])
            return row["title"], row["summary"], model.topics[main], model.topics[other]
    raise AssertionError("no evaluation post has a second topic left out by the share")


def test_explain_names_a_second_topic_left_out_and_why(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A post whose second topic clears its own threshold, but is under the share of the
    # main topic's probability a second topic needs: it is not given, and explain says why.
    share = TopicModel.load().second_share
    title, text, main, other = _a_post_with_a_second_topic_left_out()
    server.routes["/f.xml"] = Route(body=rss(Item(title, guid="p1", body=f"<p>{escape(text)}</p>")))
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        (post,) = store.posts()
    assert main in [t["topic"] for t in json.loads(post["tags"])]
    assert other not in [t["topic"] for t in json.loads(post["tags"])]
    explained = CliRunner().invoke(cli, ["--config", config.path, "explain", post["id"]]).output
    note = next(line.strip() for line in explained.splitlines() if "not given:" in line)
    assert note.startswith(f"not given: {other} score ")
    assert f"but a second topic needs {share:g} of the main one's ({main} " in note


def test_explain_says_a_topic_was_given_because_the_title_names_it(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    title = "Full-Mesh BGP Network Over WireGuard Backbone"
    body = (
        "<p>Three sites, a tunnel between each pair, and a route table that looked fine until it was not.</p>"
    )
    server.routes["/f.xml"] = Route(body=rss(Item(title, guid="w1", body=body)))
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        (post,) = store.posts()
    assert "bgp" in [t["topic"] for t in json.loads(post["tags"])]
    explained = CliRunner().invoke(cli, ["--config", config.path, "explain", post["id"]]).output
    assert "bgp: given because the title names it, before any setting words" in explained


def test_topics_left_pending_by_a_killed_run_are_published_by_the_next(
    server: FeedServer, write_config: WriteConfig, clock: Clock, monkeypatch
) -> None:
    # post_topics is filled at the end of a run; a run that dies before then has stored
    # the posts, and the next run (even one where nothing changed) must publish their topics.
    server.routes["/f.xml"] = Route(
        body=rss(Item("PIM sparse mode and the RP", guid="m1", body="<p>IGMP joins reach the RP.</p>"))
    )
    config = write_config(["/f.xml"])

    class Killed(Exception):
        pass

    def die(self: Store) -> int:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(Store, "index_topics", die)
        with Store(config.database) as store, pytest.raises(Killed):
            update(config, store, clock=clock)
    with Store(config.database) as store:
        assert store.count_posts() == 1
        assert published(store) == {}
        update(config, store, clock=clock, force=True)
        assert published(store) == {"m1": {"multicast"}}
        assert store.index_topics() == 0  # nothing left pending


def test_evaluate_prints_per_topic_metrics_beside_the_keywords() -> None:
    realistic = MODEL_DIR / "data" / "eval_realistic.jsonl"
    result = CliRunner().invoke(cli, ["evaluate", "--file", str(realistic)])
    assert result.exit_code == 0, result.output
    assert "PRECISION" in result.output and "KEYWORDS F1" in result.output
    tags = result.output.split("tags of the", 1)[1]
    for topic in ("multicast", "bgp", "igp", "kubernetes"):
        line = next(ln for ln in tags.splitlines() if ln.strip().startswith(topic + " "))
        f1 = float(line.split()[-2])
        assert f1 > 0.8  # a floor against regressions; the targets are in the issue's note
    # The model has to do better than its own keyword lists would alone.
    line = next(ln for ln in tags.splitlines() if "taxonomy keywords alone" in ln)
    model, keywords = (float(part.split()[-1]) for part in line.split(":", 1)[1].split(","))
    assert model > keywords


def test_evaluate_together_measures_several_small_sets_as_one(tmp_path) -> None:
    # Two labelled sets of two posts each: each alone, then the four together.
    rows = [
        ("a1", "PIM sparse mode: why the RP never saw the register", "keep", ["multicast"]),
        ("a2", "Sourdough starter, week three", "offtopic", []),
        ("b1", "OSPF stuck in EXSTART: an MTU mismatch again", "keep", ["igp"]),
        ("b2", "Mi receta de tortilla de patatas con cebolla caramelizada", "non_english", []),
    ]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    for path, part in ((first, rows[:2]), (second, rows[2:])):
        path.write_text(
            "".join(
                json.dumps({"id": i, "title": t, "summary": "", "expect": e, "topics": topics}) + "\n"
                for i, t, e, topics in part
            )
        )
    result = CliRunner().invoke(cli, ["evaluate", "--file", str(first), "--file", str(second), "--together"])
    assert result.exit_code == 0, result.output
    assert f"{first}: 2 posts" in result.output and f"{second}: 2 posts" in result.output
    together = result.output.split("2 sets together (first.jsonl, second.jsonl): 4 posts", 1)[1]
    assert re.search(r"English networking wrongly dropped: +0 of 2 \(0\.0%\)", together)
    assert re.search(r"non-English kept: +0 of 1 \(0\.0%\)", together)
    assert "expected offtopic        1: offtopic 1" in together
    alone = CliRunner().invoke(cli, ["evaluate", "--file", str(first), "--file", str(second)])
    assert "sets together" not in alone.output


def test_evaluate_scores_no_topic_that_no_post_has(tmp_path) -> None:
    # One multicast post: the twelve other topics have nothing to score (a '-', not a
    # perfect 1.000), unless the post was given one anyway (then 0.000); an empty file
    # says there is nothing to measure.
    one = tmp_path / "one.jsonl"
    row = {"id": "a", "title": "IGMP snooping with a querier on the access switch", "topics": ["multicast"]}
    one.write_text(json.dumps(row) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(
        cli, ["evaluate", "--file", str(empty), "--topics-file", str(one), "--topics-file", str(empty)]
    )
    assert result.exit_code == 0, result.output
    lines = {ln.split()[0]: ln.split()[1:] for ln in result.output.splitlines() if ln.startswith("  ")}
    assert lines["multicast"] == ["1", "1.000", "1.000", "1.000", "1.000"]
    assert lines["observability"] == ["0", "-", "-", "-", "-"]
    assert f"{empty}: 0 posts with known topics\n  nothing to measure: no post with topics" in result.output


def published(store: Store) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in store.db.query("SELECT p.guid, t.topic FROM posts p JOIN post_topics t ON t.post_id = p.id"):
        found.setdefault(row["guid"], set()).add(row["topic"])
    return found


def test_corrections_change_published_topics_and_are_learned(
    server: FeedServer, write_config: WriteConfig, clock: Clock, tmp_path
) -> None:
    from datetime import timedelta
    from pathlib import Path

    from aggregator.cards import MODEL_DIR
    from aggregator.train import train_topics

    spam = "<p>Slot gacor hari ini, togel hk and free spins: daftar sekarang, bonus new member.</p>"
    server.routes["/f.xml"] = Route(
        body=rss(
            Item("IGMP snooping without a querier", guid="m1", body="<p>The video VLAN flooded.</p>"),
            Item("Multicast bonus", guid="s1", link="https://blog.example.net/s1", body=spam),
        )
    )
    config = write_config(["/f.xml"])
    corrections = Path(config.path).with_name("corrections.yaml")
    with Store(config.database) as store:
        update(config, store, clock=clock)
        assert published(store)["m1"] == {"multicast"}
        assert {p["guid"]: p["status"] for p in store.posts()} == {"m1": "kept", "s1": "dropped"}
        post_id = next(p["id"] for p in store.posts() if p["guid"] == "m1")
        # A correction that also names a dropped spam post (a url: pattern broader than
        # meant) changes nothing the model learns from it: only published posts are rows.
        corrections.write_text(
            f"- post: {post_id}\n  add: [wireless]\n  remove: [multicast]\n"
            "- url: https://blog.example.net/s*\n  add: [multicast]\n"
        )
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        assert published(store)["m1"] == {"wireless"}  # no retraining needed
        rows = store.corrected_posts()
        assert rows == [
            {
                "id": post_id,
                "title": "IGMP snooping without a querier",
                "summary": "The video VLAN flooded.",
                "topics": ["wireless"],
            }
        ]
        corrections.write_text("")
        update(config, store, clock=clock)
        assert published(store)["m1"] == {"multicast"}  # the model's topics come back
    out = tmp_path / "model"
    out.mkdir()
    import shutil

    shutil.copy(MODEL_DIR / "topics.yaml", out)
    shutil.copytree(MODEL_DIR / "lexicon", out / "lexicon")
    # Two of the corpus files are enough to show the correction is folded in (the whole
    # corpus takes minutes to train on).
    data = tmp_path / "data"
    data.mkdir()
    for name in ("topics_train_a.jsonl", "topics_train_b.jsonl"):
        shutil.copy(MODEL_DIR / "data" / name, data)
    card = train_topics(data, out, echo=lambda _: None, corrected=rows)
    assert card["corrections_folded_in"] == 1
    assert card["out_of_fold"]["multicast"]["examples"] > 100


def test_a_correction_with_an_unknown_topic_is_reported(write_config: WriteConfig) -> None:
    from pathlib import Path

    config = write_config(["/f.xml"])
    Path(config.path).with_name("corrections.yaml").write_text("- url: '*'\n  add: [multicats]\n")
    result = CliRunner().invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 2
    assert "entry 1 add: unknown topic(s) multicats" in result.output


def test_a_strong_keyword_weighs_but_not_inside_an_excluded_phrase() -> None:
    # Strong keywords are chosen in training (named by at least 5 training posts, 95% of
    # them about the topic); the last stage weighs them, and names them first.
    screener = Screener.load(("en",))
    model = screener.topics
    assert model is not None and "msdp" in model.card["strong_keywords"]["multicast"]
    msdp, lunch, mdns = screener.screen(
        [
            ("MSDP between two sites", "", "en"),
            ("Lunch and a walk in the park", "", "en"),
            ("multicast dns reflectors on the guest network", "", "en"),
        ]
    )
    assert [t.topic for t in msdp.tags][:1] == ["multicast"] and msdp.tags[0].terms[0] == "msdp"
    assert lunch.tags == ()
    assert "multicast" not in {t.topic for t in mdns.tags}


def test_terms_are_ranked_for_a_whole_batch_as_for_each_post_alone() -> None:
    # Terms come from one sort over a feed's posts; each post's and topic's ranking must
    # be the plain one: features weighing above zero, each once, highest first, ties by
    # first position.
    import numpy as np

    from aggregator.topics.model import TERMS_PER_TAG, TopicModel

    rng = np.random.default_rng(7)
    lengths = [0, 1, 5, 40, 399, 17]
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    # Few features, so a post repeats some, and few distinct weights, so ties and zero
    # weights are common; a gram's weights are its feature's.
    index = rng.integers(0, 40, bounds[-1])
    weights = rng.choice(np.array([-0.5, 0.0, 0.25, 0.5, 1.0, 2.0], dtype=np.float32), (40, 6))
    gathered = weights[index]
    chosen = [[0, 1], [2], [5, 0, 3], [1, 2, 3, 4], [4], []]
    ranked = TopicModel._ranked_grams(gathered, bounds, chosen, index)
    for i, topics in enumerate(chosen):
        rows = gathered[bounds[i] : bounds[i + 1]]
        features = index[bounds[i] : bounds[i + 1]].tolist()
        firsts = [k for k in range(len(rows)) if features.index(features[k]) == k]
        for j in topics:
            plain = sorted((k for k in firsts if rows[k, j] > 0), key=lambda k: (-rows[k, j], k))
            assert ranked.get(i * 6 + j, []) == plain[:TERMS_PER_TAG]
    assert set(ranked) <= {i * 6 + j for i, topics in enumerate(chosen) for j in topics}


def test_the_taxonomy_loads_without_numpy_and_the_modules_import_in_any_order() -> None:
    # The publisher reads the taxonomy for topic pages: it must not pay for NumPy. And no
    # module of screen/ or topics/ may need another imported first (an import loop).
    script = (
        "import sys\n"
        "from aggregator.topics.taxonomy import load_taxonomy\n"
        "assert len(load_taxonomy()) == 13\n"
        "assert 'numpy' not in sys.modules, 'numpy loaded by the taxonomy'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    for module in (
        "aggregator.topics.model",
        "aggregator.topics.keywords",
        "aggregator.topics.reading",
        "aggregator.screen.verdict",
        "aggregator.screen.text",
        "aggregator.features.linear",
        "aggregator.train",
        "aggregator.label",
    ):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


def _evaluate(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator.cli", "--config", f"{env_dir}/none.yaml", "evaluate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_evaluate_names_rows_whose_expect_or_topics_it_cannot_count(tmp_path: Path) -> None:
    """A missing or misspelt expect, or a topic no taxonomy has, would skew the figures or
    end in a traceback: each is named by line with what to write instead."""
    rows = [
        {
            "id": "a",
            "title": "OSPF area design",
            "summary": "Stub areas.",
            "expect": "keep",
            "topics": ["igp"],
        },
        {"id": "b", "title": "BGP route reflectors", "summary": "Clusters."},
        {"id": "c", "title": "BGP route reflectors", "summary": "Clusters.", "expect": "kept"},
        {"id": "d", "title": "BGP peering", "summary": "", "expect": "keep", "topics": ["routing", "bgp"]},
        {"id": "e", "title": "BGP peering", "summary": "", "expect": "keep", "topics": "bgp"},
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    result = _evaluate("--file", str(path), env_dir=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "line 2: no expect" in result.stderr
    assert 'line 3: "expect" is "kept"; it must be one of keep, offtopic, spam, non_english' in result.stderr
    assert 'line 4: "topics" names routing, no topic of models/topics.yaml' in result.stderr
    assert 'line 5: "topics" is a string' in result.stderr
    assert "line 1:" not in result.stderr
    assert result.stdout == ""

    topics = tmp_path / "topics.jsonl"
    topics.write_text(
        json.dumps({"id": "t", "title": "Anycast DNS", "summary": "", "topics": ["anycast"]}) + "\n"
    )
    (tmp_path / "ok.jsonl").write_text(json.dumps(rows[0]) + "\n")
    result = _evaluate("--file", str(tmp_path / "ok.jsonl"), "--topics-file", str(topics), env_dir=tmp_path)
    assert result.returncode == 1
    assert 'line 1: "topics" names anycast, no topic of models/topics.yaml' in result.stderr


def test_evaluate_claims_no_f1_for_a_set_without_off_topic_posts(tmp_path: Path) -> None:
    """With nothing to drop there is no F1 of dropping: an empty set, or one of networking
    posts only, printed 1.000 against the 0.95 target."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    keep = tmp_path / "keep.jsonl"
    row = {"id": "a", "title": "OSPF area design for a campus core", "summary": "", "expect": "keep"}
    keep.write_text(json.dumps(row) + "\n")
    for path in (empty, keep):
        result = _evaluate("--file", str(path), env_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        line = next(ln for ln in result.stdout.splitlines() if "off-topic and spam dropped, F1:" in ln)
        assert line.split(":", 1)[1].split() == ["none", "none", ">=", "0.95"], line
    spam = tmp_path / "spam.jsonl"
    spam.write_text(json.dumps({**row, "title": "Slot gacor malam ini", "expect": "spam"}) + "\n")
    result = _evaluate("--file", str(spam), env_dir=tmp_path)
    assert "off-topic and spam dropped, F1:                 1.000" in result.stdout


def test_evaluate_lists_a_mistake_whose_title_is_null_or_a_number(tmp_path: Path) -> None:
    # Listing the mistakes read row["title"] as text: a null title with a null or numeric
    # summary ended the report in a traceback.
    rows = tmp_path / "odd.jsonl"
    rows.write_text(
        json.dumps({"id": "1", "title": "", "summary": None, "expect": "keep"})
        + "\n"
        + json.dumps({"id": "2", "title": None, "summary": 12345, "expect": "keep"})
        + "\n"
    )
    result = _evaluate("--file", str(rows), env_dir=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    wrong = [line for line in result.stdout.splitlines() if line.startswith("  wrong:")]
    assert wrong == [
        "  wrong: keep: expected keep, got offtopic: (empty)",
        "  wrong: keep: expected keep, got offtopic: 12345",
    ]


def test_a_correction_of_the_wrong_shape_is_reported_not_a_traceback(
    server: FeedServer, write_config: WriteConfig
) -> None:
    server.routes["/f.xml"] = Route(body=rss(Item("IGMP snooping without a querier", guid="m1")))
    config = write_config(["/f.xml"])
    corrections = Path(config.path).with_name("corrections.yaml")
    runner = CliRunner()
    for text, expected in [
        ("- post: 752c1d9aee3d6ffab4cf\n  add: 5\n", "entry 1 add: unknown topic(s) 5"),
        ("- post: 752c1d9aee3d6ffab4cf\n  add: {bgp: 1}\n", "entry 1 add: must be a topic or a list"),
        ("- post: 752c1d9aee3d6ffab4cf\n  add:\n", "entry 1: nothing to add or remove"),
    ]:
        corrections.write_text(text)
        for command in ("check", "update"):
            result = runner.invoke(cli, ["--config", config.path, command])
            assert result.exit_code == 2, (text, command, result.output, result.exception)
            assert str(corrections) in result.output and expected in result.output
    # A wrong topic is named as such, not also as "nothing to add".
    corrections.write_text("- post: 752c1d9aee3d6ffab4cf\n  add: [bogus]\n")
    result = runner.invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 2 and "unknown topic(s) bogus" in result.output
    assert "nothing to add or remove" not in result.output


def test_correction_problems_name_their_line_and_a_key_given_twice_is_refused(
    server: FeedServer, write_config: WriteConfig
) -> None:
    server.routes["/f.xml"] = Route(body=rss(Item("IGMP snooping without a querier", guid="m1")))
    config = write_config(["/f.xml"])
    corrections = Path(config.path).with_name("corrections.yaml")
    corrections.write_text(
        "- url: 'https://a.example.net/*'\n  add: [bgp]\n"
        "- url: 'https://b.example.net/*'\n  add: [igp]\n  remove: [multicats]\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 2
    assert "line 5, entry 2 remove: unknown topic(s) multicats" in result.output
    # add: twice in one entry: YAML keeps the second, and the first was silently lost.
    corrections.write_text("- url: 'https://a.example.net/*'\n  add: [bgp]\n  add: [igp]\n")
    for command in ("check", "update"):
        result = runner.invoke(cli, ["--config", config.path, command])
        assert result.exit_code == 2, (command, result.output)
        assert "line 3: key 'add' appears twice (first on line 2); keep one" in result.output


def test_explain_shows_the_topics_a_correction_published(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # explain listed only the model's topics: after a correction it still said multicast,
    # while the site published wireless, and nothing said a correction had decided.
    server.routes["/f.xml"] = Route(
        body=rss(Item("IGMP snooping without a querier", guid="m1", body="<p>The video VLAN flooded.</p>"))
    )
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        post_id = next(store.posts())["id"]
    runner = CliRunner()
    before = runner.invoke(cli, ["--config", config.path, "explain", post_id]).output
    assert "multicast" in before and "corrections" not in before
    Path(config.path).with_name("corrections.yaml").write_text(
        f"- post: {post_id}\n  add: [wireless]\n  remove: [multicast]\n"
    )
    with Store(config.database) as store:
        update(config, store, clock=clock)
    after = runner.invoke(cli, ["--config", config.path, "explain", post_id]).output
    assert "published topics, set by the site's corrections (corrections.yaml): wireless" in after
