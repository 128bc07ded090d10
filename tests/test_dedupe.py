"""Duplicate detection: exact copies and syndicated near copies are one article; related stories are not."""

from __future__ import annotations

from embeddings.index.dedupe import DuplicateFinder
from embeddings.parsers import parse_file
from tests.conftest import REPO_SEEDS

ARTICLE = parse_file(REPO_SEEDS / "002_207503266fe6f751.txt")[0].text


def test_exact_copy_whitespace_and_case_aside():
    finder = DuplicateFinder()
    assert finder.add("a", ARTICLE) is None
    assert finder.add("b", "  " + ARTICLE.upper().replace(" ", "\n ")) == "a"


def test_syndicated_copy_with_its_own_header_and_footer_is_the_same_article():
    finder = DuplicateFinder()
    assert finder.add("a", ARTICLE) is None
    syndicated = "Republished from Biometric Update with permission.\n\n" + ARTICLE + "\n\nCopyright 2020 Wire Service."
    assert finder.add("b", syndicated) == "a"


def test_different_articles_on_the_same_story_are_kept():
    finder = DuplicateFinder()
    texts = [d.text for p in sorted(REPO_SEEDS.glob("*.txt")) for d in parse_file(p)]
    assert all(finder.add(f"doc{i}", t) is None for i, t in enumerate(texts))
    # two outlets' AP excerpts share a headline but not their text
    assert len(texts) == 14


def test_short_texts_are_only_matched_exactly():
    finder = DuplicateFinder()
    assert finder.add("a", "Facial recognition company sued by California activists") is None
    assert finder.add("b", "Facial recognition company sued by Californian activists") is None
