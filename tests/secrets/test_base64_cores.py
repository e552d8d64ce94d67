"""The base64 shortcut of the masking owner: a text that holds none of a masker's
base64 cores is not decoded, and that changes nothing: the spans found with the
shortcut are those found by decoding every token (`cores=False`), over generated
secrets and texts built to hold their base64 at every offset and alignment."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempest_sdk._secrets import (
    _CORE_FORMS,
    MASK,
    Masker,
    _base64_spans,
    forms,
    masker_for,
)

secret_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20
).filter(lambda s: not s.isspace())
# Few characters, so that generated base64 text often comes close to a core.
near = st.text(alphabet="AQgwBCDabc+/-_=:., \n\"'\\", max_size=24)
filler = st.binary(max_size=7)


@st.composite
def texts(draw: st.DrawFn, secrets: list[str]) -> bytes:
    """Text holding, among noise, base64 of bytes around (parts of) the secrets' forms."""
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["noise", "near", "encoded", "encoded", "raw"]))
        if kind == "noise":
            pieces.append(draw(st.binary(max_size=30)))
        elif kind == "near":
            pieces.append(draw(near).encode())
        else:
            secret = draw(st.sampled_from(secrets))
            form = draw(st.sampled_from(sorted(forms(secret)))).encode("utf-8", "surrogatepass")
            if draw(st.booleans()):  # a part only: near misses
                start = draw(st.integers(0, len(form)))
                form = form[start : draw(st.integers(start, len(form)))]
            payload = draw(filler) + form + draw(filler)
            if kind == "raw":
                pieces.append(payload)
                continue
            encode = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
            encoded = encode(payload)
            if draw(st.booleans()):
                encoded = encoded.rstrip(b"=")
            if draw(st.booleans()) and len(encoded) > 1:  # cut: a token's end falls anywhere
                encoded = encoded[: draw(st.integers(1, len(encoded)))]
            pieces.append(encoded)
        pieces.append(draw(st.sampled_from([b"", b" ", b":", b'"', b"\n", b"="])))
    return b"".join(pieces)


def spans(data: bytes, masker: Masker, *, cores: bool) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    _base64_spans(data, (masker,), found, cores=cores)
    return sorted(found)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), secrets=st.lists(secret_values, min_size=1, max_size=3))
def test_the_shortcut_finds_what_decoding_every_token_finds(
    data: st.DataObject, secrets: list[str]
) -> None:
    masker = Masker(secrets)
    text = data.draw(texts(secrets))
    assert spans(text, masker, cores=True) == spans(text, masker, cores=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    secrets=st.lists(secret_values, min_size=1, max_size=3),
    nul=st.integers(0, 20),
)
def test_a_secret_with_a_zero_byte_is_always_decoded(
    data: st.DataObject, secrets: list[str], nul: int
) -> None:
    # Its base64 may span a token's zero fill: no cores, so no shortcut.
    secret = secrets[0][:nul] + "\x00" + secrets[0][nul:] + "abcd"
    masker = Masker([secret, *secrets[1:]])
    assert masker._cores is None
    text = data.draw(texts([secret, *secrets[1:]]))
    assert spans(text, masker, cores=True) == spans(text, masker, cores=False)


def test_the_shortcut_skips_text_without_a_core_and_still_masks_what_holds_one() -> None:
    masker = masker_for(("bench-secret-value",))
    assert masker._cores  # one plain form: three alignments
    clean = b'{"task_id": "t-1", "request_type": "execute_resource_action", "at": "2026-01-01"}'
    assert not any(core in clean for core in masker._cores)
    assert spans(clean, masker, cores=True) == []
    for lead in (b"", b"u", b"us", b"user:"):
        encoded = base64.b64encode(lead + b"bench-secret-value")
        text = b"Authorization: Basic " + encoded
        assert spans(text, masker, cores=True) == [(21, len(text))]
        assert masker.mask(text.decode()) == f"Authorization: Basic {MASK}"


def test_many_forms_give_up_the_shortcut() -> None:
    many = Masker([f"secret-number-{n:03d}" for n in range(_CORE_FORMS + 1)])
    assert many._cores is None
    few = Masker([f"secret-number-{n:03d}" for n in range(_CORE_FORMS)])
    assert few._cores is not None
    for n in range(_CORE_FORMS):
        for lead in (b"", b"x", b"xy"):
            encoded = base64.b64encode(lead + f"secret-number-{n:03d}".encode())
            assert any(core in encoded for core in few._cores)


def test_a_secret_whose_base64_ends_where_the_decoder_fills_is_found_both_ways() -> None:
    # "@" is 0x40: as the third byte of a group, its low six bits are zero, so its
    # last base64 character is "A", the decoder's own fill; a token cut before that
    # character still decodes to the secret, and the shortcut must not skip it.
    secret = "secret@"
    masker = Masker([secret])
    encoded = base64.b64encode(b"user:" + secret.encode())
    assert encoded.endswith(b"A") and len(encoded) % 4 == 0
    text = b"token " + encoded[:-1] + b" end"
    found = spans(text, masker, cores=False)
    assert found == [(6, 6 + len(encoded) - 1)]
    assert spans(text, masker, cores=True) == found
