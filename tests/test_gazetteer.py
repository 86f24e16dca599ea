"""Offline places: the GeoNames gazetteer and placing events from their addresses."""

from __future__ import annotations

import pytest

from techcal.errors import UnknownPlace
from techcal.normalise.gazetteer import distance_km, fold
from techcal.store.normalise import Normaliser
from techcal.store.places import gazetteer


@pytest.fixture(scope="module")
def places():
    return gazetteer()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Portland", "Portland, OR, US"),  # the most populous Portland
        ("Portland, OR", "Portland, OR, US"),
        ("Portland, Oregon", "Portland, OR, US"),
        ("Portland, ME", "Portland, ME, US"),
        ("portland,   maine", "Portland, ME, US"),
        ("Paris", "Paris, FR"),
        ("Paris, TX", "Paris, TX, US"),
        ("Paris, France", "Paris, FR"),
        ("Berlin", "Berlin, DE"),
        ("München", "Munich, DE"),
        ("Munich", "Munich, DE"),
        ("Cologne", "Köln, DE"),
        ("Toronto, ON", "Toronto, ON, CA"),
        ("London, ON", "London, ON, CA"),
        ("London, UK", "London, GB"),
        ("Sydney, NSW", "Sydney, NSW, AU"),
        ("St. Louis", "St. Louis, MO, US"),
    ],
)
def test_names_resolve_to_the_place_people_mean(places, text, label):
    assert places.resolve(text).label == label


def test_an_ambiguous_name_says_how_many_places_share_it(places):
    portland = places.resolve("Portland")
    assert portland.namesakes > 1
    assert "most populous of" in portland.note()
    assert places.resolve("Portland, OR").namesakes == 1


def test_coordinates_are_places_too(places):
    place = places.resolve("45.52,-122.68")
    assert (place.lat, place.lon) == (45.52, -122.68)


def test_a_qualifier_that_fits_nothing_is_ignored_and_reported(places):
    place = places.resolve("Portland, Narnia")
    assert place.label == "Portland, OR, US"
    assert place.ignored == "Narnia"


def test_unknown_places_suggest_close_names(places):
    with pytest.raises(UnknownPlace) as caught:
        places.resolve("Sanfrancisco")
    assert "San Francisco, CA, US" in caught.value.suggestions
    with pytest.raises(UnknownPlace) as nothing:
        places.resolve("Xyzzyqq")
    assert nothing.value.suggestions == []


def test_distances():
    # Portland to Seattle is about 234 km; a degree of latitude about 111 km
    assert distance_km(45.5152, -122.6784, 47.6062, -122.3321) == pytest.approx(234, abs=3)
    assert distance_km(0, 0, 1, 0) == pytest.approx(111.19, abs=0.01)
    assert distance_km(-16.8, 179.98, -16.8, -179.98) == pytest.approx(4.26, abs=0.05)


def test_fold():
    assert fold("  São Paulo ") == "sao paulo"
    assert fold("St. Louis") == "st louis"


@pytest.mark.parametrize(
    ("address", "city"),
    [
        ("1825 SW Broadway, Portland, OR 97201", "Portland"),
        ("400 Broad St, Seattle, WA 98109, USA", "Seattle"),
        ("Hauptstraße 5, 10115 Berlin, Germany", "Berlin"),
        ("c-base, Rungestraße 20, 10179 Berlin", "Berlin"),
        ("Portland State University, 1825 SW Broadway, Portland, OR 97201", "Portland"),
        ("10 Downing Street, London SW1A 2AA, UK", "London"),
    ],
)
def test_the_city_in_an_address_places_an_event(places, address, city):
    normaliser = Normaliser(places=places)
    lat, lon, precision = normaliser.locate(
        lat=None, lon=None, venue=None, address=address, city=None, region=None,
        country=None, online=False, source_city=None,
    )  # fmt: skip
    expected = places.resolve(city)
    assert precision == "city"
    assert (lat, lon) == (expected.lat, expected.lon)


def test_precision_order_exact_city_source(places):
    normaliser = Normaliser(places=places)
    base = dict(venue=None, address=None, region=None, country=None, online=False)
    assert normaliser.locate(lat=1.0, lon=2.0, city="Berlin", source_city="Berlin",
                             **base)[2] == "exact"  # fmt: skip
    assert normaliser.locate(lat=None, lon=None, city="Potsdam", source_city="Berlin",
                             **base)[2] == "city"  # fmt: skip
    assert normaliser.locate(lat=None, lon=None, city="Berlin", source_city="Berlin",
                             **base)[2] == "source"  # fmt: skip
    assert normaliser.locate(lat=None, lon=None, city=None, source_city=None,
                             **base) == (None, None, None)  # fmt: skip
    online = dict(base, online=True)
    assert normaliser.locate(lat=None, lon=None, city="Berlin", source_city="Berlin",
                             **online) == (None, None, None)  # fmt: skip


def test_the_cache_is_built_once_and_reused(places):
    assert places.path.exists()
    assert places.path.stat().st_size > 1_000_000


def test_an_unwritable_cache_folder_falls_back_to_the_temporary_folder(monkeypatch):
    from techcal.store.places import Gazetteer

    monkeypatch.setenv("TECHCAL_CACHE_DIR", "/proc/techcal-cannot-write-here")
    places = Gazetteer()
    assert not str(places.path).startswith("/proc")
    assert places.resolve("Berlin").label == "Berlin, DE"


def test_a_damaged_cache_is_built_again(tmp_path, monkeypatch):
    from techcal.store.places import Gazetteer

    monkeypatch.setenv("TECHCAL_CACHE_DIR", str(tmp_path))
    first = Gazetteer()
    first.close()
    first.path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)  # a torn write
    again = Gazetteer()
    assert again.resolve("Berlin").label == "Berlin, DE"


def test_addresses_with_region_and_country_after_the_city_without_commas():
    """Calagator and many US exports write "Seattle WA 98122 US"."""
    from techcal.store.normalise import Normaliser

    normaliser = Normaliser()
    for address, label in (
        ("1701 Broadway, Seattle WA 98122 US", "Seattle, WA, US"),
        ("Seattle Central College: 1701 Broadway, Seattle WA 98122 US", "Seattle, WA, US"),
        ("1930 SW 4th Ave, Portland, OR 97201", "Portland, OR, US"),
        ("Main St, Portland ME", "Portland, ME, US"),
        ("Alexanderplatz 1, 10178 Berlin", "Berlin, DE"),
    ):
        place = normaliser._address_city(address, None, None)
        assert place is not None and place.label == label, address


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # country names as people write them, where GeoNames spells them otherwise
        ("Amsterdam, Netherlands", "Amsterdam, NL"),
        ("Ede, Netherlands", "Ede, NL"),  # not Ede, Nigeria
        ("Brno, Czech Republic", "Brno, CZ"),
        ("Istanbul, Türkiye", "Istanbul, TR"),
        ("Dubai, UAE", "Dubai, AE"),
        ("New York, NY, U.S.A.", "New York City, NY, US"),
        ("Washington, D.C.", "Washington, DC, US"),
        # Saint / St., Sankt, Fort / Ft.
        ("St. Augustine, FL", "Saint Augustine, FL, US"),
        ("St. Charles, MO", "Saint Charles, MO, US"),
        ("St. Petersburg", "Saint Petersburg, RU"),
        ("St. Petersburg, FL", "St. Petersburg, FL, US"),
        ("St. Gallen", "Sankt Gallen, CH"),
        ("Ft. Worth", "Fort Worth, TX, US"),
        # a town without its river
        ("Marburg, Germany", "Marburg an der Lahn, DE"),
        # places GeoNames lacks or names otherwise
        ("Bali, Indonesia", "Denpasar, ID"),
        ("St Julian's, Malta", "San Ġiljan, MT"),
        ("Rapperswil-Jona, Switzerland", "Rapperswil, CH"),
        ("Sophia Antipolis", "Valbonne, FR"),
        ("Raleigh-Durham, NC", "Raleigh, NC, US"),
        ("Odessa", "Odesa, UA"),
        ("Odessa, TX", "Odessa, TX, US"),
        # another city's other-language name never takes a large city's own name
        ("Porto", "Porto, PT"),
        ("Cancun", "Cancún, MX"),
        ("Zaragoza", "Zaragoza, ES"),
        ("Waterloo", "Waterloo, ON, CA"),
        ("Frisco", "Frisco, TX, US"),
        # exonyms of large cities stay
        ("Bangalore", "Bengaluru, IN"),
        ("Hanover", "Hannover, DE"),
        ("Saint Louis", "St. Louis, MO, US"),
    ],
)
def test_names_conference_listings_use(places, text, label):
    place = places.resolve(text)
    assert (place.label, place.ignored) == (label, "")


def test_online_is_no_place(places):
    for text in ("Online", "Virtual", "Remote", "TBA"):
        assert places.city(text) is None
