"""The tel: parser: the seed's examples, what RFC 3966 allows, and a table of what it refuses."""

from __future__ import annotations

import pytest

from calls.dialling.tel import TelUri, TelUriError, parse_tel_uri

pytestmark = pytest.mark.fast
CALL_ID = "91FCF82E-9817-4C73-959F-4CF4A0DB334D"


@pytest.mark.parametrize(
    ("uri", "number", "extension"),
    [
        # The two examples of 000 "Initiating New Calls", as Outreach launches them.
        (f"tel:+1-234-555-6789;source=outreach;call-id={CALL_ID}", "+12345556789", ""),
        (f"tel:+1-234-555-6789;ext=1234;source=outreach;call-id={CALL_ID}", "+12345556789", "1234"),
    ],
)
def test_it_reads_the_seeds_examples(uri: str, number: str, extension: str) -> None:
    tel = parse_tel_uri(uri)
    assert (tel.number, tel.extension, tel.source, tel.call_id) == (
        number,
        extension,
        "outreach",
        CALL_ID,
    )
    assert tel.is_global and tel.dialable() == number


def test_it_takes_parameters_in_any_order_and_any_case() -> None:
    tel = parse_tel_uri(f"TEL:+1-234-555-6789;Call-ID={CALL_ID};EXT=12;Source=outreach")
    assert (tel.call_id, tel.extension, tel.source) == (CALL_ID, "12", "outreach")


def test_it_drops_visual_separators_everywhere() -> None:
    tel = parse_tel_uri("tel:+1.(234).555-6789;ext=1-2.3;source=outreach;call-id=7")
    assert (tel.number, tel.extension, tel.call_id) == ("+12345556789", "123", "7")


def test_it_reads_a_local_number_with_a_global_phone_context() -> None:
    tel = parse_tel_uri("tel:863-1234;phone-context=+1-914-555;source=outreach;call-id=7")
    assert not tel.is_global
    assert (tel.number, tel.phone_context, tel.dialable()) == (
        "8631234",
        "+1914555",
        "+19145558631234",
    )


def test_it_keeps_a_local_number_with_a_domain_context_for_the_region() -> None:
    tel = parse_tel_uri("tel:7042;phone-context=example.com")
    assert (tel.number, tel.phone_context, tel.dialable()) == ("7042", "example.com", "7042")


def test_it_keeps_a_local_number_without_context_for_the_region() -> None:
    assert parse_tel_uri("tel:(206) 555-0100".replace(" ", "")).dialable() == "2065550100"


def test_it_reads_isub_and_unknown_parameters_percent_decoded() -> None:
    tel = parse_tel_uri("tel:+1-234-555-6789;isub=%41b;note=hello%20there;flag;call-id=A%2DB")
    assert tel == TelUri(
        number="+12345556789",
        isdn_subaddress="Ab",
        parameters={"note": "hello there", "flag": "", "call-id": "A-B"},
    )


def test_it_reads_a_uri_a_launcher_percent_encoded_whole() -> None:
    tel = parse_tel_uri(
        f"tel:%2B1-234-555-6789%3Bext%3D99%3Bsource%3Doutreach%3Bcall-id%3D{CALL_ID}"
    )
    assert (tel.number, tel.extension, tel.source, tel.call_id) == (
        "+12345556789",
        "99",
        "outreach",
        CALL_ID,
    )


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("", "Not a tel: URI"),
        ("sip:+12345556789", "Not a tel: URI"),
        ("tel:", "no number"),
        ("tel:;ext=1", "no number"),
        ("tel://+12345556789", "no '//'"),
        ("tel:+", "not a phone number"),
        ("tel:+1-234-CALL-NOW", "not a phone number"),
        ("tel:+1 234 555 6789", "not a phone number"),
        ("tel:555-zzzz", "not a phone number"),
        ("tel:+12345556789;ext=12a", "extension '12a' must be digits"),
        ("tel:+12345556789;ext=", "extension '' must be digits"),
        ("tel:+12345556789;ext=1;ext=2", "'ext' is given twice"),
        ("tel:+12345556789;EXT=1;ext=2", "'ext' is given twice"),
        ("tel:+12345556789;=x", "no valid name"),
        ("tel:+12345556789;so urce=x", "no valid name"),
        ("tel:+12345556789;call-id=a b", "invalid value"),
        ("tel:+12345556789;call-id=%zz", "invalid value"),
        ("tel:+12345556789;call-id=%ff", "does not decode"),
        ("tel:+12345556789;isub", "'isub' needs a value"),
        ("tel:+12345556789;isub=", "'isub' needs a value"),
        ("tel:+12345556789;phone-context=+1", "takes no phone-context"),
        ("tel:5551234;phone-context=+", "neither a +number nor a domain"),
        ("tel:5551234;phone-context=exa_mple.com", "neither a +number nor a domain"),
        ("tel:5551234;phone-context=-example.com", "neither a +number nor a domain"),
    ],
)
def test_it_refuses_malformed_uris_saying_why(uri: str, says: str) -> None:
    with pytest.raises(TelUriError) as refused:
        parse_tel_uri(uri)
    assert says in str(refused.value)
