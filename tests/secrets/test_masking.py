"""The masking owner (`tempest_sdk._secrets`): every form of a secret, the short-secret
rule, one pass over the text whatever the number of secrets, and the registry of the
secrets the process knows now."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tempest_sdk._secrets import (
    _FIND_PATTERNS,
    MASK,
    Masker,
    TaskSecrets,
    active_values,
    enter_task,
    forms,
    leave_task,
    mask,
    mask_data,
    mask_strings,
    masker_for,
    register_process_secrets,
    scrub,
    scrub_data,
    unregister_process_secrets,
)
from tempest_sdk.testing import sample_task

SECRET = "s3cr3t-Tok/en+42=ä"

# Secret values a user may hold: any text of 4 characters or more but whitespace-only
# and lone surrogates (which no text encoding carries).
secret_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=4, max_size=24
).filter(lambda s: not s.isspace())
surroundings = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=16)


def _encodings(secret: str) -> dict[str, str]:
    """Every encoding of `secret` the SDK masks, as the libraries that leak it write it."""
    return {
        "raw": secret,
        "quote": quote(secret),
        "quote safe=''": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "json ensure_ascii": json.dumps(secret)[1:-1],
        "json utf-8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json in json": json.dumps(json.dumps(secret))[3:-3],
        "dict repr": repr({"k": secret})[7:-2],
        "repr of repr": repr(repr(secret))[2:-2],
    }


def _leaks(secret: str, masked: str) -> list[str]:
    """The forms of `secret` still in `masked`, looked for between the masks (a mask
    never joins what it separates; `*` may be in a secret)."""
    pieces = masked.split(MASK)
    return [form for form in sorted(forms(secret)) if any(form in piece for piece in pieces)]


# Enough other secrets that the masker uses its gram index, not one find a pattern.
FILLERS = [f"filler-secret-{n:03d}" for n in range(_FIND_PATTERNS + 1)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secret_values, before=surroundings, after=surroundings, indexed=st.booleans())
def test_every_encoding_of_a_secret_is_masked_wherever_it_stands(
    secret: str, before: str, after: str, indexed: bool
) -> None:
    masker = Masker([secret, *FILLERS] if indexed else [secret])
    assert bool(masker._index) == indexed or len(secret.encode("utf-8", "surrogatepass")) < 7
    for name, encoded in _encodings(secret).items():
        text = f"{before}{encoded}{after}"
        masked = masker.mask(text)
        assert not any(encoded in piece for piece in masked.split(MASK)), (name, text, masked)
        assert not _leaks(secret, masked), (name, text, masked)


@settings(max_examples=200, deadline=None)
@given(
    secret=secret_values,
    user=st.text(alphabet="abcdefghij:", max_size=8),
    indexed=st.booleans(),
)
def test_base64_of_a_secret_or_of_credentials_holding_it_is_masked(
    secret: str, user: str, indexed: bool
) -> None:
    masker = Masker([secret, *FILLERS] if indexed else [secret])
    for payload in (secret, f"{user}:{secret}", f"{user}:{secret}:{user}"):
        data = payload.encode("utf-8")
        if len(data) < 9:
            continue  # the documented floor: base64 text of 12 characters or more
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(data).decode("ascii")
            masked = masker.mask(f"Authorization: Basic {encoded}\n")
            assert encoded.rstrip("=") not in masked, (payload, masked)
            assert masked == f"Authorization: Basic {MASK}\n"


@settings(max_examples=200, deadline=None)
@given(secret=secret_values, text=st.text(max_size=200))
def test_text_without_the_secret_is_left_as_it_is(secret: str, text: str) -> None:
    masker = Masker([secret])
    if any(form in text for form in forms(secret)):
        return
    decoded = _b64_decoded(text)
    if any(form.encode("utf-8") in decoded for form in forms(secret)):
        return
    assert masker.mask(text) == text


def _b64_decoded(text: str) -> bytes:
    out = []
    for token in text.split():
        with contextlib.suppress(ValueError):
            out.append(base64.b64decode(token + "==", altchars=b"-_"))
    return b"\x00".join(out)


def test_the_documented_examples() -> None:
    leaked = "https://api.example/v1?api_key=Ab+Cd/Ef==&x=1"
    secret = "Ab+Cd/Ef=="
    masked = scrub(
        f"{leaked} {quote(secret, safe='')} {json.dumps({'p': 'pässwört'})} "
        + repr({"path": "C:\\keys\\pässwört"}),
        [secret, "pässwört", "C:\\keys\\pässwört"],
    )
    assert masked == (
        f"https://api.example/v1?api_key={MASK}&x=1 {MASK} "
        f"{{\"p\": \"{MASK}\"}} {{'path': '{MASK}'}}"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the active user", "the active user"),  # inside a word: left alone
        ("ive", MASK),  # the whole value
        ("code=ive;", f"code={MASK};"),
        ('{"pin": "ive"}', f'{{"pin": "{MASK}"}}'),
        ("ive_x and xive", "ive_x and xive"),  # `_` and letters are word characters
        ("éive", "éive"),  # so is any non-ASCII character
    ],
)
def test_secrets_under_four_characters_are_masked_only_as_whole_values(
    text: str, expected: str
) -> None:
    assert scrub(text, ["ive"]) == expected


short_secrets = st.text(alphabet="abcxyz0189_", min_size=1, max_size=3)
word_characters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_é", min_size=1)


@settings(max_examples=200, deadline=None)
@given(secret=short_secrets, before=word_characters, after=word_characters)
def test_a_short_secret_is_masked_alone_and_never_inside_a_word(
    secret: str, before: str, after: str
) -> None:
    masker = Masker([secret])
    for text in (f"{before}{secret}", f"{secret}{after}", f"{before}{secret}{after}"):
        assert masker.mask(text) == text
    assume(secret not in (before, after))  # else they are that whole value too
    assert masker.mask(f"{before} {secret}, {after}") == f"{before} {MASK}, {after}"


def test_secrets_of_four_characters_are_masked_inside_words_too() -> None:
    assert scrub("the active user", ["tive"]) == f"the ac{MASK} user"


def test_whitespace_only_values_are_not_secrets() -> None:
    assert scrub("a  b\tc", ["  ", "\t"]) == "a  b\tc"
    assert not Masker(["  ", "", "\n"])


def test_a_secret_holding_another_is_masked_whole_and_overlaps_merge() -> None:
    masker = Masker(["abcdefgh", "cdef", "ghijkl"])
    assert masker.mask("xx abcdefghijkl yy") == f"xx {MASK} yy"
    assert masker.mask("cdef abcdefgh") == f"{MASK} {MASK}"


def test_many_secrets_use_the_index_and_find_the_same() -> None:
    values = [f"secret-value-{n:06d}" for n in range(2000)]
    masker = Masker(values)
    assert masker._index and not masker._few  # the gram index, not one find a secret
    text = "a " + " b ".join(values[::97]) + " c ünï " + quote("secret-value-000042/x", safe="")
    masked = masker.mask(text)
    assert not any(value in masked for value in values)
    assert masked.startswith(f"a {MASK} b {MASK}")
    assert masker.mask("secret-value-") == "secret-value-"


def test_non_ascii_text_and_secrets_mask_at_character_boundaries() -> None:
    masked = scrub("ünïcødé→pässwört←ok", ["pässwört"])
    assert masked == f"ünïcødé→{MASK}←ok"
    # A lone surrogate (from `surrogateescape`d bytes) survives masking, in the
    # text and in a secret.
    assert scrub("x\udcffy pässwört", ["pässwört"]) == f"x\udcffy {MASK}"
    assert scrub("a b\udcffc/d e", ["b\udcffc/d"]) == f"a {MASK} e"


def test_data_is_masked_in_every_string_keys_included() -> None:
    data = {"a": [SECRET, {"b": f"x {SECRET}"}], SECRET: (1, SECRET), "n": 5}
    masked = scrub_data(data, [SECRET])
    assert masked == {"a": [MASK, {"b": f"x {MASK}"}], MASK: (1, MASK), "n": 5}
    clean = {"a": ["nothing", {"b": 1}]}
    assert scrub_data(clean, [SECRET]) is clean  # one pass found nothing: no copy


def test_maskers_are_built_once_per_set() -> None:
    values = tuple(f"value-number-{n}" for n in range(100))
    assert masker_for(values) is masker_for(values)
    assert masker_for(list(values)) is masker_for(frozenset(values))


def test_a_task_in_flight_is_masked_from_any_thread_and_only_while_in_flight() -> None:
    task = sample_task("widget", "create", secrets={"TOKEN": SECRET}).task
    secrets = TaskSecrets(task)
    seen: list[str] = []
    entered = enter_task(secrets)
    try:
        # A thread does not inherit the task's context variable, yet sees its secrets.
        thread = threading.Thread(target=lambda: seen.append(mask(f"token {SECRET}")))
        thread.start()
        thread.join()
        assert active_values() == secrets.values()
        assert mask_data({"t": SECRET}) == {"t": MASK}
        assert mask_strings(("a", SECRET)) == ("a", MASK)
    finally:
        leave_task(entered)
    assert seen == [f"token {MASK}"]
    assert mask(f"token {SECRET}") == f"token {SECRET}"  # gone with the task


def test_ctx_mask_values_join_a_task_in_flight() -> None:
    secrets = TaskSecrets(sample_task("widget", "create").task)
    entered = enter_task(secrets)
    try:
        assert mask("fetched-token-1") == "fetched-token-1"
        secrets.add("fetched-token-1")
        assert mask("a fetched-token-1") == f"a {MASK}"
        assert secrets.mask("fetched-token-1") == MASK
    finally:
        leave_task(entered)


def test_tasks_with_the_same_secrets_share_one_masker_and_leave_the_union_alone() -> None:
    """Entering and leaving tasks whose secrets the process already holds changes
    nothing `mask()` uses: the union is not gathered again on every task (metrics and
    traces mask their labels on every task), and it ends with the last of them."""
    from tempest_sdk._secrets import _registry

    first = TaskSecrets(sample_task("widget", "create", secrets={"TOKEN": SECRET}).task)
    held = enter_task(first)
    try:
        assert mask(SECRET) == MASK
        union = _registry.union
        for _ in range(50):
            other = TaskSecrets(sample_task("widget", "create", secrets={"TOKEN": SECRET}).task)
            entered = enter_task(other)
            assert mask(f"a {SECRET}") == f"a {MASK}"
            leave_task(entered)
        assert _registry.union is union  # gathered once, for the first task
        other = TaskSecrets(sample_task("widget", "create", secrets={"K": "another-one"}).task)
        entered = enter_task(other)
        assert mask("another-one and " + SECRET) == f"{MASK} and {MASK}"
        leave_task(entered)
        assert mask("another-one") == "another-one"
    finally:
        leave_task(held)
    assert mask(SECRET) == SECRET
    assert _registry.held == {}


def test_a_task_entered_twice_holds_its_secrets_until_its_last_leave() -> None:
    secrets = TaskSecrets(sample_task("widget", "create", secrets={"TOKEN": SECRET}).task)
    outer = enter_task(secrets)
    inner = enter_task(secrets)
    leave_task(inner)
    assert mask(SECRET) == MASK
    secrets.add("added-after-the-inner-left")
    assert mask("added-after-the-inner-left") == MASK
    leave_task(outer)
    assert mask(SECRET) == SECRET
    assert mask("added-after-the-inner-left") == "added-after-the-inner-left"


def test_ctx_mask_from_threads_while_the_task_leaves_leaves_nothing_behind() -> None:
    """Handler threads adding values race with the task's end: whatever the order,
    nothing stays masked once the task has left."""
    for round_ in range(20):
        secrets = TaskSecrets(sample_task("widget", "create").task)
        entered = enter_task(secrets)
        start = threading.Barrier(5)

        def add(
            n: int,
            secrets: TaskSecrets = secrets,
            r: int = round_,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            for i in range(20):
                secrets.add(f"thread-value-{r}-{n}-{i}")

        threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        start.wait()
        leave_task(entered)
        for thread in threads:
            thread.join()
        assert mask(f"thread-value-{round_}-0-19") == f"thread-value-{round_}-0-19"
    from tempest_sdk._secrets import _registry

    assert _registry.held == {}


def test_process_secrets_are_counted() -> None:
    register_process_secrets(["process-secret"])
    register_process_secrets(["process-secret"])
    try:
        unregister_process_secrets(["process-secret"])
        assert mask("process-secret") == MASK
    finally:
        unregister_process_secrets(["process-secret"])
    assert mask("process-secret") == "process-secret"
