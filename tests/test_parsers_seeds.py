"""The five real seeds parse into the documents a citation needs, without site chrome or noise."""

from __future__ import annotations

from embeddings.parsers import parse_file
from tests.conftest import REPO_SEEDS

SEEDS = sorted(p for p in REPO_SEEDS.iterdir() if p.suffix == ".txt")


def _docs(stem):
    return parse_file(REPO_SEEDS / f"{stem}.txt")


def test_every_seed_parses_and_all_failures_are_reported_together():
    failures = {}
    for path in SEEDS:
        try:
            docs = parse_file(path)
            assert docs and all(d.text.strip() for d in docs)
        except Exception as exc:  # collect them all, like a data-file test should
            failures[path.name] = repr(exc)
    assert len(SEEDS) == 5
    assert failures == {}


def test_aggregator_record_and_its_related_coverage_each_cite_their_own_source():
    docs = _docs("000_e6d5e0a2c1aa177b")
    main, related = docs[0], docs[1:]
    assert main.outlet == "Cook County Record" and main.published == "2020-02-18"
    assert main.url.startswith("https://cookcountyrecord.com/stories/525710212")
    assert "foreign governments" in main.text and main.text.startswith("Class action: Tech firm Clarifai")
    assert len(related) == 5
    fox = related[0]
    assert (fox.outlet, fox.published, fox.part) == ("Fox News", "2020-02-14", "related-1")
    assert fox.url.startswith("https://www.foxnews.com/") and "New York federal court" in fox.text
    assert {d.outlet for d in related} == {"Fox News", "CTV News", "Finextra", "Daily Camera", "U.S. News & World Report"}


def test_noise_fields_never_reach_the_text():
    for stem in ("000_e6d5e0a2c1aa177b", "003_38049205e7261289"):
        for doc in _docs(stem):
            for noise in ("secured", "cdy1q733", "K9cWvuba", "quality", "heat:", "jpg", "images"):
                assert noise not in doc.text, (doc.key, noise)


def test_related_items_of_003_name_chicago_police_and_three_billion():
    docs = {d.outlet: d for d in _docs("003_38049205e7261289")}
    assert "sued in Cook County by the ACLU" in docs["Chicago Sun-Times"].text
    assert "3 billion people" in docs["The Fresno Bee"].text
    assert docs["The Fresno Bee"].published == "2021-03-11"


def test_scraped_articles_lose_boilerplate_and_keep_every_sentence():
    a001 = _docs("001_8487601e0b76af03")[0]
    assert a001.text.count("The US company Clearview gives up selling") == 1  # duplicated title line
    assert "Clearview AI CEO Hoan Ton-That demonstrates his facial recognition system with his own photos" in a001.text
    for junk in ("#company", "AP Photo", "Seth Wenig", "Leave a Comment", "Your email address", "Article reserved for our subscribers", "read also"):
        assert junk not in a001.text
    for kept in ("On Monday, May 9", "for five years", "Biometric Information Privacy Act", "agreed to pay $650 million",
                 "delete the data collected in France", "20 billion photos"):
        assert kept in a001.text

    a002 = _docs("002_207503266fe6f751")[0]
    for junk in ("FB pixel", "Leave a Reply", "Akismet", "Related Posts", "Most Read This Week", "|"):
        assert junk not in a002.text
    assert a002.text.rstrip().endswith("wrongfully acquired in the first place.”")

    a004 = _docs("004_23d3985e3772e314")[0]
    for junk in ("Photo: AC RT/Flickr", "John Furrier", "Your vote of support", "#CubeAlumni", "THANK YOU"):
        assert junk not in a004.text
    assert "Lee Wolosky" in a004.text and "27 countries" in a004.text


def test_sidecar_metadata_reaches_the_bare_article():
    a004 = _docs("004_23d3985e3772e314")[0]
    assert a004.outlet == "SiliconANGLE"
    assert a004.published is None and a004.url is None  # the document states neither: nothing invented


def test_kept_text_is_verbatim_from_the_seed():
    from embeddings.index.chunking import split_sentences
    from embeddings.text import plain as normalize

    for path in SEEDS:
        raw = normalize(path.read_text(encoding="utf-8"))
        for doc in parse_file(path):
            for sentence in split_sentences(doc.text):
                assert normalize(sentence) in raw, (path.name, sentence)
