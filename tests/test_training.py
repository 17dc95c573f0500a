"""The screening model: trained deterministically, stored safely, measured on held-out posts."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cards import MODEL_DIR
from aggregator.cli import cli
from aggregator.errors import AggregatorError, ModelError
from aggregator.features.linear import LinearTextModel
from aggregator.screen.text import screening_text
from aggregator.screen.verdict import Screener
from aggregator.topics.model import TopicModel
from aggregator.train import check_topic_corpus, train_screening


def train_into(folder: Path) -> dict:
    folder.mkdir()
    shutil.copytree(MODEL_DIR / "lexicon", folder / "lexicon")
    shutil.copy(MODEL_DIR / "topics.yaml", folder)
    return train_screening(
        MODEL_DIR / "data", folder, clock=lambda: datetime(2026, 11, 24, tzinfo=UTC), echo=lambda _: None
    )


def test_training_is_deterministic_and_matches_the_committed_model(tmp_path: Path) -> None:
    first, second = train_into(tmp_path / "a"), train_into(tmp_path / "b")
    assert first == second
    assert (tmp_path / "a" / "screen.npz").read_bytes() == (tmp_path / "b" / "screen.npz").read_bytes()
    committed = json.loads((MODEL_DIR / "screen.json").read_text())
    # The committed model is what training on the committed corpus gives.
    assert committed["version"] == first["version"]
    assert committed["training_data_sha256"] == first["training_data_sha256"]
    card = first
    assert card["versions"]["scikit-learn"] and card["out_of_fold"]["networking_kept"] >= 0.99
    assert 0 < card["threshold"] <= card["strong_threshold"] < 1


def test_a_model_for_other_features_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    train_into(tmp_path / "m")
    card_path = tmp_path / "m" / "screen.json"
    card = json.loads(card_path.read_text())
    card["features"]["kind"] = "something-else"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="run `aggregator train`"):
        LinearTextModel.load(tmp_path / "m" / "screen")


def test_the_model_file_is_plain_data() -> None:
    import numpy as np

    with np.load(MODEL_DIR / "screen.npz", allow_pickle=False) as arrays:  # refuses pickled objects
        assert set(arrays.files) == {"coef", "intercept"}


def _figures(output: str, heading: str) -> dict[str, tuple[str, ...]]:
    """The figure lines of one set in `aggregator evaluate`'s output: label -> the model's
    figure ("3 of 556" as ("3", "556"), an F1 as ("0.95",))."""
    figures: dict[str, tuple[str, ...]] = {}
    section = output.split(heading, 1)[1].split("\n\n", 1)[0]
    for line in section.splitlines():
        for name in (
            "English networking wrongly dropped",
            "non-English kept",
            "off-topic and spam dropped, F1",
        ):
            if line.strip().startswith(name):
                value = line.split(":", 1)[1].split()
                figures[name] = (value[0], value[2]) if value[1:2] == ["of"] else (value[0],)
    return figures


@pytest.mark.parametrize("name", ["eval_realistic.jsonl", "eval_screening.jsonl"])
def test_evaluate_reports_the_screening_figures(name: str) -> None:
    """The issue's figures on each evaluation set: no networking post in 200 dropped, no
    foreign post kept, and off-topic and spam dropped with an F1 above a floor against
    regressions (the target, 0.95, is in the closing note's figures)."""
    result = CliRunner().invoke(cli, ["evaluate", "--file", str(MODEL_DIR / "data" / name)])
    assert result.exit_code == 0, result.output
    figures = _figures(result.output, name)
    dropped, networking = (int(x) for x in figures["English networking wrongly dropped"])
    assert dropped <= networking // 200
    assert int(figures["non-English kept"][0]) == 0
    assert float(figures["off-topic and spam dropped, F1"][0]) >= 0.93


def test_near_misses_are_off_topic_and_infrastructure_is_on_topic() -> None:
    screener = Screener.load()
    verdicts = screener.screen(
        [
            ("Build your downline fast with our network marketing system", "", "en"),
            ("Ten tips for networking at your next industry mixer", "", "en"),
            ("Fine-tuning a convolutional neural network on a single GPU", "", "en"),
            (
                "Sourdough starter troubleshooting",
                "Why your starter smells of acetone and what to feed it.",
                "en",
            ),
            (
                "Anycast DNS for a small ISP",
                "Three sites, two resolvers each, and BGP to steer queries.",
                "en",
            ),
            ("Wi-Fi 7 multi-link operation in a busy office", "", "en"),
            ("Cilium replaces kube-proxy in our clusters", "", "en"),
            ("Zero trust network access for contractors", "", "en"),
        ]
    )
    assert [v.keep for v in verdicts] == [False, False, False, False, True, True, True, True]


def test_topic_training_reproduces_the_committed_topic_model(tmp_path: Path) -> None:
    import numpy as np

    from aggregator.train import train_topics

    out = tmp_path / "topics"
    out.mkdir()
    shutil.copy(MODEL_DIR / "topics.yaml", out)
    shutil.copytree(MODEL_DIR / "lexicon", out / "lexicon")
    card = train_topics(MODEL_DIR / "data", out, echo=lambda _: None)
    committed = json.loads((MODEL_DIR / "topics.json").read_text())
    assert card["version"] == committed["version"]
    # The thresholds and the second-topic rule are chosen out of fold from grids, the same
    # way on every machine.
    assert card["thresholds"] == committed["thresholds"]
    assert card["second_topic_share"] == committed["second_topic_share"]
    # Weights and out-of-fold figures agree up to floating-point rounding: OpenBLAS picks
    # its kernels by CPU (AVX2 or AVX-512), and a sum taken in another order differs in
    # the fourth decimal. The tolerances are that rounding, far under what moves a tag.
    fresh_f1, saved_f1 = card["second_topic_share_micro_f1"], committed["second_topic_share_micro_f1"]
    assert fresh_f1.keys() == saved_f1.keys()
    assert all(abs(fresh_f1[share] - saved_f1[share]) <= 0.0005 for share in saved_f1)
    with np.load(out / "topics.npz") as fresh, np.load(MODEL_DIR / "topics.npz") as saved:
        assert fresh["coef"].shape == saved["coef"].shape
        assert np.allclose(fresh["coef"], saved["coef"], rtol=0, atol=0.005)
    # What a user sees: the retrained model tags the realistic evaluation set exactly as
    # the committed one does.
    posts = [json.loads(line) for line in (MODEL_DIR / "data" / "eval_realistic.jsonl").open()]
    reading, batch = Screener.load(topics=False).read(
        [screening_text(post["title"], post["summary"]) for post in posts], [post["title"] for post in posts]
    )

    def tags(model_dir: Path) -> list[list[str]]:
        return [[tag.topic for tag in post] for post in TopicModel.load(model_dir).tag_batch(batch, reading)]

    committed_tags = tags(MODEL_DIR)
    assert sum(map(bool, committed_tags)) > 400
    assert tags(out) == committed_tags


def test_a_second_topic_needs_half_the_main_ones_probability() -> None:
    import numpy as np

    from aggregator.topics.model import given

    probabilities = np.array([[0.95, 0.40, 0.60], [0.30, 0.20, 0.05]])
    low = np.array([0.25, 0.25, 0.25])
    # Without the rule every topic over its threshold is given; with it, bgp at 0.40 is
    # less than half of multicast's 0.95 and goes, igp at 0.60 stays; a post whose main
    # topic is itself weak keeps it.
    assert given(probabilities, low, 0.0).tolist() == [[True, True, True], [True, False, False]]
    assert given(probabilities, low, 0.5).tolist() == [[True, False, True], [True, False, False]]
    # The main topic is the likeliest that is given: dns at 0.50 under its 0.58 does not
    # take away multicast at 0.20, the post's only tag.
    assert given(np.array([[0.50, 0.20]]), np.array([0.58, 0.16]), 0.5).tolist() == [[False, True]]


def test_training_rows_with_unusable_topics_are_all_named_by_line(tmp_path: Path) -> None:
    # A null topics gave a traceback, a string was read letter by letter ("unknown topics
    # ['g', 'i', 'p']"), only the first bad row was named, and by `aggregator train` the
    # screening model had been rewritten before the topic data was read.
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": "t1", "title": "OSPF areas", "label": "networking", "topics": ["igp"]},
        {"id": "t2", "title": "IS-IS levels", "label": "networking", "topics": None},
        {"id": "t3", "title": "BGP add-path", "label": "networking", "topics": "bgp"},
        {"id": "t4", "title": "EIGRP stubs", "label": "networking", "topics": ["igp", "routing"]},
    ]
    (data / "topics_train_zz.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(AggregatorError) as caught:
        check_topic_corpus(data, MODEL_DIR)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert 'line 2: topics must be a list of topic names, such as ["bgp"], not null' in message
    assert 'line 3: topics must be a list of topic names, such as ["bgp"], not "bgp"' in message
    assert "line 4: unknown topic(s) routing; the topics are those of models/topics.yaml" in message


def test_a_title_that_names_one_topic_by_its_own_name_gives_that_topic() -> None:
    # Real titles name their subject plainly ("Full-Mesh BGP Network Over WireGuard"), where
    # the text model, trained on texts that name it less, leaned to the setting (security).
    screener = Screener.load()
    model = screener.topics
    assert model is not None
    titles = [
        "Full-Mesh BGP Network Over WireGuard Backbone",  # the head names bgp: given
        "Residential Broadband TV and IP Multicast on a lab router",  # a keyword inside a term
        "OSPF and BGP compared for a small campus",  # two topics: the model decides
        "Lab notes over OSPF",  # OSPF is the setting, after "over"
        "Ten thousand set-top boxes and one rp_filter",  # a lexicon term, not the topic's name
        "Playing with OSPF over a GRE mesh at home",  # a lead-in naming nothing: its subject follows
        "Notes on OSPF stub areas",  # the same after "on"
        "Outage after an OSPF flap",  # after "after" comes the trigger, lead-in or not
        "A containerlab topology for BGP communities",  # automation by a tool's name only: bgp
        "IS-IS levels explained",  # a protocol name English words contain ("crisis"): topics.yaml names
        "ndots and the DNS lookups behind each request",  # a Kubernetes term: dns is `under` it
    ]
    text = "Three sites, a tunnel between each pair, and a route table that looked fine until it was not."
    reading, batch = screener.read([screening_text(t, text) for t in titles], titles)
    assert [(i, model.topics[j]) for i, j in model.titled(reading)] == [
        (0, "bgp"),
        (1, "multicast"),
        (5, "igp"),
        (6, "igp"),
        (8, "bgp"),
        (9, "igp"),
    ]
    tags = [[tag.topic for tag in post] for post in model.tag_batch(batch, reading)]
    assert "bgp" in tags[0] and "multicast" in tags[1] and "igp" in tags[5] and "igp" in tags[6]
    assert "bgp" in tags[8] and "igp" in tags[9]
