"""The topic taxonomy (data/topics.toml) and tagging with it."""

from __future__ import annotations

import re

import pytest

from techcal.errors import TaxonomyError
from techcal.normalise.topics import load_taxonomy, taxonomy

REQUIRED = (
    "linux python javascript go rust java dotnet cloud aws azure gcp kubernetes devops "
    "security data ai-ml web mobile gamedev hardware-maker embedded databases open-source "
    "career diversity-in-tech civic-tech hackathon"
).split()


@pytest.fixture(scope="module")
def topics():
    return taxonomy()


def test_the_bundled_taxonomy_is_broad_and_well_formed(topics):
    assert len(topics.topics) >= 40
    assert set(REQUIRED) <= set(topics.topics)
    seen: dict[str, str] = {}
    for topic in topics.topics.values():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", topic.slug)
        assert topic.label and topic.synonyms
        for synonym in topic.synonyms:
            key = synonym.lower()
            assert key not in seen, f"{synonym!r} is in {seen.get(key)} and {topic.slug}"
            seen[key] = topic.slug


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Portland Linux/Unix Group: March meeting - Intro to eBPF", {"linux"}),
        ("Kubernetes Community Day", {"kubernetes", "cloud", "devops"}),
        ("k8s office hours", {"kubernetes", "cloud", "devops"}),
        ("BSides PDX 2026", {"security"}),
        ("OWASP Portland chapter meeting", {"security"}),
        ("PyLadies Berlin: intro to pandas", {"pyladies", "python", "diversity-in-tech"}),
        ("PyDataPDX: forecasting", {"pydata", "python", "data"}),
        ("Code for Berlin hack night", {"civic-tech"}),
        ("Global Game Jam 2027", {"game-jam", "gamedev", "hackathon"}),
        ("Rust Berlin: Rustacean Station", {"rust"}),
        ("C# and .NET user group", {"dotnet"}),
        ("Golang Gophers meetup", {"go"}),
        # plain English that must not tag anything
        ("Let's go to the pub after the talk", set()),
        ("Networking & pizza", set()),
        ("Spring cleaning volunteer day", set()),
        ("J'ai une question", set()),
    ],
)
def test_titles_get_the_topics_people_expect(topics, title, expected):
    assert set(topics.tag(title)) == expected


def test_matching_is_whole_words_in_any_case(topics):
    assert topics.tag("PYTHON night") == ("python",)
    assert topics.tag("pythonic code") == ()  # not a whole word
    assert "python" in topics.tag("Monty", "a talk about python")  # description counts


def test_links_and_addresses_in_descriptions_do_not_tag(topics):
    assert topics.tag("Details at https://example.org/easter.php or mail info@ruby.example") == ()


def test_source_topics_are_kept_even_outside_the_taxonomy(topics):
    assert topics.tag("Monthly meeting", extra=("linux", "our-own")) == ("linux", "our-own")


def test_related_topics_come_along(topics):
    assert {"cloud"} <= set(topics.tag("AWS Community Day"))


def test_slugs_labels_and_synonyms_name_a_topic(topics):
    assert topics.check("python") == "python"
    assert topics.check("K8s") == "kubernetes"
    assert topics.check("Linux") == "linux"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('["Bad Slug"]\nsynonyms = ["x"]\n', "slugs are lower-case"),
        ("[a]\nsynonyms = []\n", "'synonyms' must be a non-empty list"),
        ("[a]\nsynonyms = ['x']\nrelated = ['b']\n", "related topic 'b' is not defined"),
        ("[a\n", "not valid TOML"),
        ("[a]\nsynonyms = 5\n", "'synonyms' must be a non-empty list of words"),
        ("[a]\nsynonyms = 'python'\n", "'synonyms' must be a non-empty list of words"),
        ("[a]\nsynonyms = ['x']\nrelated = 5\n", "'related' must be a list of topic slugs"),
        ("[a]\nsynonyms = ['x']\nrelated = [['b']]\n", "'related' must be a list of topic slugs"),
    ],
)
def test_a_broken_taxonomy_is_a_clear_error(tmp_path, text, problem):
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=re.escape(problem)) as caught:
        load_taxonomy(path)
    assert str(path) in str(caught.value)


def test_spaces_and_hyphens_in_phrases_are_interchangeable(tmp_path):
    path = tmp_path / "topics.toml"
    path.write_text('[ml]\nsynonyms = ["machine learning", "pydata*"]\n', encoding="utf-8")
    small = load_taxonomy(path)
    assert small.tag("Machine-Learning 101") == ("ml",)
    assert small.tag("machine   learning") == ("ml",)
    assert small.tag("PyDataPDX") == ("ml",)
