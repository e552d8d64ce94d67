"""The one owner of masking: which values are secret, and how they are masked.

Secret values, from every source:
- the task's Tempest variables of a sensitive type (secret, certificate, private and
  public keys), and each long line of them (a key may leak one line at a time);
- `SecretStr` and `SecretBytes` values in the task's validated input;
- `SecretStr` and `SecretBytes` values in what the app's lifespan yields (its
  settings), for as long as the app serves;
- values a handler registers with `ctx.mask(value)`;
- values registered for the process (`register_process_secrets`: the API token).

The rule, the same in the docs (`docs/settings-and-secrets.md`):
- A secret of `MIN_INSIDE` (4) characters or more is masked wherever it appears,
  inside words too, in each of its encodings (`forms`): raw, URL-encoded (`quote`,
  `quote_plus`), JSON-escaped (with and without `ensure_ascii`, and escaped twice),
  repr-escaped (and twice); and inside base64 text (a token of 12 or more base64
  characters, standard or URL-safe, whose decoded bytes hold the secret is masked
  whole: HTTP Basic credentials).
- A shorter secret is masked only where it stands as a whole value, never inside a
  word (a letter, digit, `_` or non-ASCII character on either side keeps it), and
  not inside base64.
- Whitespace-only values are not secrets (masking them would garble every line).

How: a `Masker` is built once per set of secrets and cached. It indexes each secret
form of 7 or more bytes by its 4-byte grams at offsets 0 to 3, so any occurrence
holds one of them at a 4-byte-aligned offset of the text: a text (as UTF-8) is
masked by taking its aligned grams (a C-level cast), one set intersection with the
index, then checking only the candidates found there. Its cost does not grow with
the number of secrets. Up to `_FIND_PATTERNS` forms, each is looked up with
`bytes.find` instead (cheaper for a few); shorter forms go in one regular
expression. Base64 text is decoded only when the text holds one of the base64
"cores" every encoding of a form must show (`_base64_cores`; up to `_CORE_FORMS`
forms): most texts hold none, and are not decoded at all. Found spans are merged,
then each replaced by one `MASK`.

Which secrets apply where: `mask()` (and `MaskingFilter`, for log records from any
thread) uses every secret the process knows now: the serving apps', and those of
every task in flight (registered by `enter_task`, which the runner calls from a
task's claim to its settled report, and dispatch around the handler). A task's
report is masked with that task's own and the process's (`TaskSecrets.mask`).
"""

from __future__ import annotations

import binascii
import bisect
import contextvars
import dataclasses
import functools
import itertools
import json
import logging
import re
import sys
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from pydantic import BaseModel, SecretBytes, SecretStr

    from .models import EnvironmentVariable

    _Types = tuple[type[BaseModel], type[SecretBytes], type[SecretStr]]

__all__ = [
    "MASK",
    "MIN_INSIDE",
    "Masker",
    "MaskingFilter",
    "TaskSecrets",
    "active_values",
    "current_task_secrets",
    "enter_task",
    "forms",
    "install_log_filter",
    "leave_task",
    "mask",
    "mask_data",
    "mask_strings",
    "masker_for",
    "register_process_secrets",
    "scrub",
    "scrub_data",
    "scrub_data_with",
    "scrub_with",
    "secrets_in",
    "sensitive_values",
    "unregister_process_secrets",
]

_Strings = TypeVar("_Strings", bound=tuple[str, ...])

MASK = "**********"
#: Secrets of this many characters or more are masked inside words too.
MIN_INSIDE = 4
_MASK_BYTES = MASK.encode()
_MIN_LINE = 16
# Forms of this many bytes or more go in the gram index: an occurrence of 7 bytes
# always holds a whole 4-byte block at a 4-byte-aligned offset of the text.
_GRAM = 4
_MIN_INDEXED = 2 * _GRAM - 1
# Base64 runs shorter than this are not decoded: 12 characters are 9 bytes, a
# secret of 7 bytes or more standing alone, or `user:secret`.
_MIN_B64_RUN = 12
# Base64 text, standard or URL-safe, in the standard alphabet; every other byte
# (padding included) a space.
_BASE64_ONLY = bytes(
    (ord("+") if c == ord("-") else ord("/") if c == ord("_") else c)
    if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/_-")
    else 32
    for c in range(256)
)
_FILL = (b"", b"AAA", b"AA", b"A")
# Up to this many long forms, a masker looks each up with `bytes.find`.
_FIND_PATTERNS = 48
# Up to this many forms, a masker keeps the base64 text each must show when encoded
# (its `_cores`): a text holding none of them has no base64 token to decode.
_CORE_FORMS = 48
_WORD = rb"0-9A-Za-z_\x80-\xff"
_ORDER = sys.byteorder
# Walks of inputs and lifespan states stop here: deep enough for settings and
# nested inputs, bounded against cycles and huge structures.
_MAX_DEPTH = 8


# -- which values are secret -------------------------------------------------------------


def sensitive_values(variables: Iterable[EnvironmentVariable] | None) -> tuple[str, ...]:
    """The non-empty sensitive values among `variables`, longest first."""
    if not variables:
        return ()
    values: set[str] = set()
    for variable in variables:
        if variable.is_sensitive:
            values.update(_with_lines(variable.reveal()))
    values.discard("")
    return tuple(sorted(values, key=len, reverse=True))


def _with_lines(value: str) -> Iterator[str]:
    yield value
    # A key or certificate may leak one line at a time (in a parser's error).
    if "\n" in value or "\r" in value:
        for line in value.splitlines():
            if len(line.strip()) >= _MIN_LINE:
                yield line.strip()


def secrets_in(value: object) -> set[str]:
    """The values of every `SecretStr` and `SecretBytes` inside `value` (models,
    dataclasses, mappings and sequences, a few levels deep)."""
    # Here, not at import: the CLI's log filter imports this module, pydantic-free.
    from pydantic import BaseModel, SecretBytes, SecretStr

    found: set[str] = set()
    _collect(value, found, 0, set(), (BaseModel, SecretBytes, SecretStr))
    found.discard("")
    return found


def _collect(value: object, found: set[str], depth: int, seen: set[int], types: _Types) -> None:
    model, secret_bytes, secret_str = types
    if isinstance(value, secret_str):
        found.update(_with_lines(value.get_secret_value()))
        return
    if isinstance(value, secret_bytes):
        found.update(_with_lines(value.get_secret_value().decode("utf-8", "replace")))
        return
    if depth >= _MAX_DEPTH or isinstance(value, str | bytes | int | float | bool | type(None)):
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    children: Iterable[object]
    if isinstance(value, model):
        children = (getattr(value, name, None) for name in type(value).model_fields)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = (getattr(value, field.name, None) for field in dataclasses.fields(value))
    elif isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        children = value
    elif depth == 0 and hasattr(value, "__dict__"):
        # A plain object holding the state (clients, settings): its attributes only,
        # not the insides of the clients it holds.
        children = vars(value).values()
    else:
        return
    for child in children:
        _collect(child, found, depth + 1, seen, types)


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")


def forms(secret: str) -> set[str]:
    """The textual encodings of `secret` that are masked (base64 is found by decoding).

    Raw; URL-encoded as `quote` (with and without `/` safe) and `quote_plus` write
    it; JSON-escaped as `json.dumps` writes it (with and without `ensure_ascii`, and
    a JSON string inside a JSON string); repr-escaped as a `str`'s `repr` (in a
    dict's repr, say) writes it, with either quote escaped, and the repr of that.
    """
    if _PLAIN.fullmatch(secret):
        return {secret}  # every encoding leaves it as it is
    # Bytes with `surrogatepass`: a value read with `surrogateescape` still encodes.
    raw = secret.encode("utf-8", "surrogatepass")
    found = {secret, quote(raw), quote(raw, safe=""), quote_plus(raw)}
    for ascii_only in (True, False):
        once = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        found.add(once)
        found.add(json.dumps(once, ensure_ascii=ascii_only)[1:-1])
    for once in _repr_escaped(secret):
        found.add(once)
        found.update(_repr_escaped(once))
    found.discard("")
    return found


def _repr_escaped(text: str) -> set[str]:
    """`text` inside a `str`'s repr, with neither, either or both quotes escaped
    (repr escapes the quote it is delimited by, which depends on the whole string)."""
    core = "".join(char if char in "'\"" else repr(char)[1:-1] for char in text)
    single = core.replace("'", "\\'")
    return {core, single, core.replace('"', '\\"'), single.replace('"', '\\"')}


# -- masking ------------------------------------------------------------------------------


class Masker:
    """Masks one set of secret values in every form; built once per set, then shared.

    Immutable and thread-safe. Use `masker_for(values)` to get the cached one.
    """

    __slots__ = ("_cores", "_few", "_index", "_mid", "_whole", "size")

    def __init__(self, values: Iterable[str]) -> None:
        indexed: list[bytes] = []
        mid: set[bytes] = set()
        whole: set[bytes] = set()
        size = 0
        for value in set(values):
            if not value or value.isspace():
                continue
            size += 1
            try:
                found = forms(value)
            except Exception:  # an encoder refused it: the raw value at least
                found = {value}
            for form in found:
                data = form.encode("utf-8", "surrogatepass")
                if len(value) < MIN_INSIDE:
                    whole.add(data)
                elif len(data) >= _MIN_INDEXED:
                    indexed.append(data)
                else:
                    mid.add(data)
        self.size = size
        # A few patterns: each looked up with `bytes.find` costs less than hashing
        # the text's grams; past that, the index's cost stays that of the grams.
        self._few = tuple(indexed) if len(indexed) <= _FIND_PATTERNS else ()
        self._index = _gram_index(indexed) if not self._few else {}
        self._mid = _alternation(mid, b"%s") if mid else None
        self._whole = (
            _alternation(whole, b"(?<![" + _WORD + b"])(?:%s)(?![" + _WORD + b"])")
            if whole
            else None
        )
        self._cores = _base64_cores([*indexed, *mid])

    def __bool__(self) -> bool:
        return self.size > 0

    def __repr__(self) -> str:
        return f"<Masker of {self.size} secret(s)>"

    def mask(self, text: str) -> str:
        """`text` with every occurrence of these secrets replaced by `MASK`."""
        return _mask_text(text, (self,)) if self.size else text

    def mask_data(self, value: Any) -> Any:
        """`value` (JSON-like data) with these secrets masked in every string, keys too."""
        return _mask_data(value, (self,)) if self.size else value

    def _spans(
        self,
        data: bytes,
        grams: _Grams,
        spans: list[tuple[int, int]],
        *,
        whole: bool = True,
    ) -> None:
        for pattern in self._few:
            at = data.find(pattern)
            while at != -1:
                spans.append((at, at + len(pattern)))
                at = data.find(pattern, at + 1)
        index = self._index
        if index:
            for gram in index.keys() & grams.of(data):
                _index_spans(data, gram, index[gram], spans)
        if self._mid is not None:
            spans.extend(match.span() for match in self._mid.finditer(data))
        if whole and self._whole is not None:
            spans.extend(match.span() for match in self._whole.finditer(data))


def _base64_cores(patterns: list[bytes]) -> tuple[bytes, ...] | None:
    """The base64 text that any base64 token decoding to bytes that hold one of
    `patterns` contains (standard alphabet), or None when none can be told.

    A pattern found in a token's decoded bytes starts at one of three offsets modulo 3
    from the token's start; at each, the base64 characters whose six bits all lie
    within the pattern's bits are the same wherever it stands, and they are the
    token's own characters: the decoder fills a token's last quad with zero bits and
    separates tokens with zero bytes, so a pattern with no zero byte lies within
    one token and only the last of those characters may fall in the fill (dropped
    here). So a text holding none of these cores has no token worth decoding. A
    pattern with a zero byte could span the fill: then no cores (None), and every
    text is decoded as before. Too many patterns: None too (the search would cost
    what it saves)."""
    if len(patterns) > _CORE_FORMS or any(b"\x00" in pattern for pattern in patterns):
        return None
    cores: set[bytes] = set()
    for pattern in patterns:
        bits = 8 * len(pattern)
        for lead in range(3):
            encoded = binascii.b2a_base64(b"\x00" * lead + pattern, newline=False)
            first = -(-8 * lead // 6)  # the first character wholly inside the pattern
            end = (8 * lead + bits) // 6  # after the last one
            # A short pattern leaves an empty core, which every text holds: decoded.
            cores.add(encoded[first : end - 1])
    return tuple(sorted(cores, key=len))


def _gram_index(patterns: list[bytes]) -> dict[int, bytes | tuple[bytes, ...]]:
    index: dict[int, bytes | tuple[bytes, ...]] = {}
    get = index.get
    from_bytes = int.from_bytes
    for pattern in patterns:
        for offset in range(_GRAM):
            gram = from_bytes(pattern[offset : offset + _GRAM], _ORDER)
            known = get(gram)
            if known is None:
                index[gram] = pattern
            elif isinstance(known, bytes):
                if known != pattern:
                    index[gram] = (known, pattern)
            elif pattern not in known:
                index[gram] = (*known, pattern)
    return index


def _index_spans(
    data: bytes, gram: int, found: bytes | tuple[bytes, ...], spans: list[tuple[int, int]]
) -> None:
    key = gram.to_bytes(_GRAM, _ORDER)
    candidates = (found,) if isinstance(found, bytes) else found
    at = data.find(key)
    while at != -1:
        for pattern in candidates:
            offset = pattern.find(key, 0, _MIN_INDEXED)
            while offset != -1 and offset < _GRAM:
                start = at - offset
                if start >= 0 and data.startswith(pattern, start):
                    spans.append((start, start + len(pattern)))
                offset = pattern.find(key, offset + 1, _MIN_INDEXED)
        at = data.find(key, at + 1)


def _alternation(patterns: Iterable[bytes], template: bytes) -> re.Pattern[bytes]:
    # Longest first: a secret that contains another is matched whole.
    body = b"|".join(re.escape(p) for p in sorted(patterns, key=len, reverse=True))
    return re.compile(template % body)


class _Grams:
    """The aligned 4-byte grams of a text, computed once when a masker needs them."""

    __slots__ = ("_grams",)

    def __init__(self) -> None:
        self._grams: set[int] | None = None

    def of(self, data: bytes) -> set[int]:
        if self._grams is None:
            usable = len(data) - len(data) % _GRAM
            self._grams = set(memoryview(data)[:usable].cast("I")) if usable else set()
        return self._grams


def _mask_text(text: str, maskers: Sequence[Masker]) -> str:
    if not text:
        return text
    data = text.encode("utf-8", "surrogatepass")
    spans: list[tuple[int, int]] = []
    grams = _Grams()
    for masker in maskers:
        masker._spans(data, grams, spans)
    _base64_spans(data, maskers, spans)
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[bytes] = []
    last = 0
    for start, end in merged:
        parts.append(data[last:start])
        parts.append(_MASK_BYTES)
        last = end
    parts.append(data[last:])
    return b"".join(parts).decode("utf-8", "surrogatepass")


def _base64_spans(
    data: bytes,
    maskers: Sequence[Masker],
    spans: list[tuple[int, int]],
    *,
    cores: bool = True,
) -> None:
    """Mask each base64 token whose decoded bytes hold a secret (whole: the token is
    the secret, or `user:secret` of HTTP Basic credentials, or the like).

    With `cores` (the default), a text that holds none of the maskers' base64 cores
    is not decoded: no token of it can hold a secret (`_base64_cores`). The result is
    the same either way (a parity test compares both); only the cost differs.
    """
    # Same length as `data`: a token found here is at the same offset there.
    text = data.translate(_BASE64_ONLY)
    if cores and _no_core_in(text, maskers):
        return
    tokens = [token for token in set(text.split()) if len(token) >= _MIN_B64_RUN]
    if not tokens:
        return
    # Decoded all at once: each token filled to whole quads with "A" (zero bits) and
    # followed by "AAAA" (three zero bytes, which no secret's edge holds).
    padded = [token + _FILL[len(token) % 4] for token in tokens]
    decoded = binascii.a2b_base64(b"AAAA".join(padded))
    starts = [0, *itertools.accumulate(len(p) // 4 * 3 + 3 for p in padded)]
    found: list[tuple[int, int]] = []
    grams = _Grams()
    for masker in maskers:
        masker._spans(decoded, grams, found, whole=False)
    for start, end in found:
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, max(end - 1, start)) - 1
        for token in tokens[first : last + 1]:
            at = text.find(token)
            while at != -1:
                end = at + len(token)
                while data[end : end + 1] == b"=":  # its padding with it
                    end += 1
                spans.append((at, end))
                at = text.find(token, at + 1)


def _no_core_in(text: bytes, maskers: Sequence[Masker]) -> bool:
    for masker in maskers:
        found = masker._cores
        if found is None:
            return False
        for core in found:
            if core in text:
                return False
    return True


def _mask_data(value: Any, maskers: Sequence[Masker]) -> Any:
    # One pass over the whole first: most reports hold no secret at all.
    try:
        whole = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        whole = None
    if whole is not None and _mask_text(whole, maskers) == whole:
        return value
    return _walk(value, maskers)


def _walk(value: Any, maskers: Sequence[Masker]) -> Any:
    if isinstance(value, str):
        return _mask_text(value, maskers)
    if isinstance(value, dict):
        return {_walk(k, maskers): _walk(v, maskers) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(item, maskers) for item in value]
    if isinstance(value, tuple):
        return tuple(_walk(item, maskers) for item in value)
    return value


@functools.lru_cache(maxsize=16)
def _cached_masker(values: frozenset[str]) -> Masker:
    return Masker(values)


_EMPTY = Masker(())
_NONE: frozenset[str] = frozenset()
# The last few secret collections passed to `scrub`, by identity: callers pass the
# same tuple again and again (a task's values), and hashing 100,000 strings into a
# frozenset on each call would cost what the index saves.
_recent: dict[int, tuple[object, Masker]] = {}
_RECENT = 8


def masker_for(values: Iterable[str]) -> Masker:
    """The `Masker` of `values`, built once per distinct set (a few are cached)."""
    if isinstance(values, Masker):
        return values
    if isinstance(values, Collection) and not values:
        return _EMPTY  # most tasks: no sensitive variable, nothing to look up
    key = id(values)
    known = _recent.get(key)
    if known is not None and known[0] is values:
        return known[1]
    frozen = values if isinstance(values, frozenset) else frozenset(values)
    masker = _cached_masker(frozen) if frozen else _EMPTY
    if isinstance(values, tuple | frozenset):  # immutable: safe to know by identity
        if len(_recent) >= _RECENT:
            _recent.pop(next(iter(_recent)), None)
        _recent[key] = (values, masker)
    return masker


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret, in each form, masked."""
    masker = masker_for(secrets)
    return masker.mask(text) if masker else text


def scrub_data(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (JSON-like data) with secrets masked in every string, keys included."""
    masker = masker_for(secrets)
    return masker.mask_data(value) if masker else value


def scrub_with(text: str, maskers: Sequence[Masker]) -> str:
    """`scrub` with maskers already found (a task's `TaskSecrets.maskers()`, taken once:
    no look-up of the set of values on each call)."""
    return _mask_text(text, maskers) if maskers else text


def scrub_data_with(value: Any, maskers: Sequence[Masker]) -> Any:
    """`scrub_data` with maskers already found (see `scrub_with`)."""
    return _mask_data(value, maskers) if maskers else value


# -- the process's secrets and the tasks in flight --------------------------------------


class _Registry:
    """What the process knows now: the serving apps' secrets, the process's own, and
    those of every task in flight, for `mask()` and the log filter from any thread.

    Tasks in flight hold their maskers here, counted: most tasks share their maskers
    (the same variables give the same cached `Masker`), so entering and leaving a task
    changes the set only now and then. Each change of the set stores a fresh `version`
    (atomic under the GIL); a reader that cached the maskers of an older version
    gathers them again: rarely, not on every task (metrics and traces mask their
    labels on every task).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: Counter[str] = Counter()
        self.process_values: tuple[str, ...] = ()
        self.process_masker: Masker = _EMPTY
        # Each `enter_task` by its token's id (the caller holds the token until
        # `leave_task`): entered and left on every task.
        self.tasks: dict[int, TaskSecrets] = {}
        # The maskers the tasks in flight hold, by id: [masker, how many hold it].
        self.held: dict[int, list[Any]] = {}
        self.version = next(_versions)
        self.union: tuple[int, tuple[Masker, ...]] = (-1, ())

    def changed(self) -> None:
        self.version = next(_versions)

    def enter(self, secrets: TaskSecrets) -> None:
        own = secrets._own_maskers()
        with self.lock:
            secrets._entered += 1
            if secrets._entered == 1:
                self._swap(secrets, own)

    def leave(self, secrets: TaskSecrets) -> None:
        with self.lock:
            secrets._entered -= 1
            if secrets._entered == 0:
                self._swap(secrets, ())

    def refresh(self, secrets: TaskSecrets) -> None:
        """The task's secrets changed (a handler's `ctx.mask`, its input): rare, so
        gathered under the lock, where two threads' changes cannot cross."""
        with self.lock:
            if secrets._entered:
                self._swap(secrets, secrets._own_maskers())

    def _swap(self, secrets: TaskSecrets, new: tuple[Masker, ...]) -> None:
        """`secrets` holds `new` from now on instead of what it held (under the lock)."""
        old, secrets._held = secrets._held, new
        if old == new:
            return
        changed = False
        for masker in new:
            entry = self.held.get(id(masker))
            if entry is None:
                self.held[id(masker)] = [masker, 1]
                changed = True
            else:
                entry[1] += 1
        for masker in old:
            entry = self.held[id(masker)]
            entry[1] -= 1
            if entry[1] <= 0:
                del self.held[id(masker)]
                changed = True
        if changed:
            self.changed()

    def maskers(self) -> tuple[Masker, ...]:
        version, maskers = self.union
        if version == self.version:
            return maskers
        with self.lock:
            version = self.version
            found = [entry[0] for entry in self.held.values()]
        process = self.process_masker
        if process and process not in found:
            found.append(process)
        maskers = tuple(found)
        self.union = (version, maskers)
        return maskers


_versions = itertools.count()
_registry = _Registry()


def register_process_secrets(values: Iterable[str]) -> None:
    """Mask `values` everywhere until `unregister_process_secrets` (a serving app's)."""
    with _registry.lock:
        _registry.process.update(value for value in values if value)
        _update_process()


def unregister_process_secrets(values: Iterable[str]) -> None:
    """Undo one `register_process_secrets` of the same values."""
    with _registry.lock:
        _registry.process.subtract(value for value in values if value)
        for value in [value for value, count in _registry.process.items() if count <= 0]:
            del _registry.process[value]
        _update_process()


def _update_process() -> None:
    values = tuple(sorted(_registry.process, key=len, reverse=True))
    if values != _registry.process_values:
        _registry.process_values = values
        _registry.process_masker = masker_for(frozenset(values))
        _registry.changed()


class TaskSecrets:
    """The secret values of one task, gathered when first needed."""

    __slots__ = (
        "_entered",
        "_extra",
        "_held",
        "_input_values",
        "_own",
        "_request",
        "_values",
        "_variable_values",
        "_variables_masker",
        "_variables_of",
    )

    def __init__(self, request: Any) -> None:
        self._request = request
        # Shared and empty until a value comes (most tasks bring none): two sets less
        # for the garbage collector to walk per task in flight.
        self._input_values: frozenset[str] | set[str] = _NONE
        self._extra: frozenset[str] | set[str] = _NONE
        self._values: tuple[str, ...] | None = None
        self._own: tuple[Masker, ...] | None = None
        # Another holder of a task the runner holds already (dispatch uses the runner's
        # own; an interceptor building an `InterceptedTask` itself, a record encoded
        # without maskers): the variables (100,000 of them, say) are read once, and
        # what this one learns reaches the runner's.
        outer = _task.get()
        self._variables_of: TaskSecrets | None = (
            outer if outer is not None and outer._request is request else None
        )
        self._variable_values: frozenset[str] | None = None
        self._variables_masker: Masker | None = None
        # While entered (`enter_task`): how often, and the maskers it holds in the
        # registry (both changed under the registry's lock).
        self._entered = 0
        self._held: tuple[Masker, ...] = ()

    def holds(self, request: object) -> bool:
        """Whether these are the secrets of `request` (the same object)."""
        return self._request is request

    def add_input(self, value: object) -> None:
        """The task's validated input: its secret fields are secrets."""
        # Gathered now, once: most inputs hold no secret field, and then nothing changes.
        self._add_input_values(secrets_in(value))

    def _add_input_values(self, found: set[str]) -> None:
        if not found <= self._input_values:
            self._input_values = self._input_values | found
            self._changed()
        if self._variables_of is not None:
            # The runner's holder of the same task learns them too: it masks what is
            # written about the task after dispatch (its outcome, its recording).
            self._variables_of._add_input_values(found)

    def add(self, value: str) -> None:
        """A value the handler registered (`ctx.mask`)."""
        if value:
            self._extra = self._extra.union(_with_lines(value))
            self._changed()
            if self._variables_of is not None:
                self._variables_of.add(value)

    def _changed(self) -> None:
        self._values = None
        self._own = None
        if self._entered:
            _registry.refresh(self)

    def _variables(self) -> frozenset[str]:
        if self._variables_of is not None:
            return self._variables_of._variables()
        if self._variable_values is None:
            try:
                env = getattr(self._request, "environment_variables", None)
                self._variable_values = frozenset(sensitive_values(env)) if env else _NONE
            except Exception:  # a malformed variable: mask what else is known
                self._variable_values = frozenset()
        return self._variable_values

    def _masker_of_variables(self) -> Masker:
        """The masker of the task's variables: built once per task, shared with the
        dispatch inside the runner's hold (one `frozenset` hash and cache look-up less)."""
        if self._variables_of is not None:
            return self._variables_of._masker_of_variables()
        masker = self._variables_masker
        if masker is None:
            masker = self._variables_masker = masker_for(self._variables())
        return masker

    def _own_maskers(self) -> tuple[Masker, ...]:
        """The task's own maskers: its variables' (shared by every task with the same
        ones) and its inputs' and `ctx.mask` values' (small, rebuilt on change)."""
        own = self._own
        if own is None:
            variables = self._masker_of_variables()
            if self._extra or self._input_values:
                more = masker_for(frozenset(self._extra | self._input_values))
                own = tuple(masker for masker in (variables, more) if masker)
            else:
                own = (variables,) if variables else ()
            self._own = own
        return own

    def values(self) -> tuple[str, ...]:
        """Every secret of the task and of the serving apps, longest first."""
        if self._values is None:
            found: set[str] = set(self._extra)
            found.update(self._variables())
            found.update(self._input_values)
            found.update(_registry.process_values)
            found.discard("")
            self._values = tuple(sorted(found, key=len, reverse=True))
        return self._values

    def maskers(self) -> tuple[Masker, ...]:
        """The maskers of this task's secrets and the process's."""
        process = _registry.process_masker
        own = self._own_maskers()
        return (*own, process) if process else own

    def mask(self, text: str) -> str:
        """`text` with this task's secrets and the process's masked."""
        return scrub_with(text, self.maskers())

    def mask_data(self, value: Any) -> Any:
        """`value` (JSON-like data: a report's properties, a list page, an output)
        with this task's secrets and the process's masked in every string, keys too."""
        return scrub_data_with(value, self.maskers())


_task: contextvars.ContextVar[TaskSecrets | None] = contextvars.ContextVar(
    "tempest_sdk_task_secrets", default=None
)

current_task_secrets = _task.get
"""The secrets of the task running in this context, if any."""


def enter_task(secrets: TaskSecrets) -> contextvars.Token[TaskSecrets | None]:
    """Make `secrets` the current task's, and mask them everywhere until `leave_task`
    (log records from any thread included)."""
    token = _task.set(secrets)
    _registry.tasks[id(token)] = secrets
    _registry.enter(secrets)
    return token


def leave_task(token: contextvars.Token[TaskSecrets | None]) -> None:
    """Undo `enter_task` with what it returned."""
    _task.reset(token)
    secrets = _registry.tasks.pop(id(token), None)
    if secrets is not None:
        _registry.leave(secrets)


def active_values() -> tuple[str, ...]:
    """The values of the current task and the serving apps (outside a task: theirs)."""
    task = _task.get()
    return task.values() if task is not None else _registry.process_values


def mask(text: str) -> str:
    """`text` with every secret the process knows now masked: the serving apps', the
    process's, and those of every task in flight. Safe from any thread."""
    maskers = _registry.maskers()
    return _mask_text(text, maskers) if maskers else text


def mask_data(value: Any) -> Any:
    """`mask()` for JSON-like data: every string, keys included."""
    maskers = _registry.maskers()
    return _mask_data(value, maskers) if maskers else value


def mask_strings(values: _Strings) -> _Strings:
    """`mask()` for a few strings (a span's attributes, metric labels): checked in
    one pass, and `values` itself returned when none holds a secret."""
    maskers = _registry.maskers()
    if not maskers:
        return values
    joined = "\x00".join(values)
    if _mask_text(joined, maskers) == joined:
        return values
    return cast("_Strings", tuple(_mask_text(value, maskers) for value in values))


# -- log records --------------------------------------------------------------------------


class MaskingFilter(logging.Filter):
    """A logging filter that masks the secrets the SDK knows of in each record.

    It masks the message (with its arguments), the exception text and traceback,
    and the stack, in place, with every secret the process knows of at that moment:
    every running task's sensitive variables, secret inputs and `ctx.mask` values,
    and the serving apps' `SecretStr` settings. It works from any thread: records
    written from executor threads or threads a handler starts are masked too.

    Put it on your handlers (not loggers: a logger's filter sees only that logger's
    own records) when you configure logging yourself; `tempest-sdk serve` and
    `app.run(log_format=...)` put it on the handler they add.

    Example:
        ```python
        handler = logging.StreamHandler()
        handler.addFilter(tempest_sdk.MaskingFilter())
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        ```
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask `record` in place; always keeps it."""
        maskers = _registry.maskers()
        if not maskers:
            return True
        # The SDK's loggers and the handler both filter: mask once per secret set.
        done = record.__dict__.get("_tempest_masked")
        if done is maskers:
            return True
        try:
            _mask_record(record, maskers)
            record.__dict__["_tempest_masked"] = maskers
        except Exception:
            # Never let a record out that could not be checked.
            record.msg, record.args = "log record withheld: it could not be masked", None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "_tempest_masked",
}


def _mask_record(record: logging.LogRecord, maskers: Sequence[Masker]) -> None:
    message = record.getMessage()
    masked = _mask_text(message, maskers)
    if masked != message:
        # Only then: a record without secrets keeps its template and arguments
        # (error trackers group records by them).
        record.msg, record.args = masked, None
    if record.exc_info:
        whole = logging.Formatter().formatException(record.exc_info)
        if not record.exc_text:
            record.exc_text = whole
        if _mask_text(whole, maskers) != whole:
            # The exception object holds a secret: a handler that reads it (an error
            # tracker) would send it. Its masked text goes on as `exc_text`.
            record.exc_info = None
    if record.exc_text:
        record.exc_text = _mask_text(record.exc_text, maskers)
    if record.stack_info:
        record.stack_info = _mask_text(record.stack_info, maskers)
    # `extra=` fields (the task's resource type and operation among them), which a
    # format string may show: checked all at once, masked one by one if needed.
    extra = {
        name: value
        for name, value in record.__dict__.items()
        if name not in _STANDARD and isinstance(value, str)
    }
    if extra:
        joined = "\x00".join(extra.values())
        if _mask_text(joined, maskers) != joined:
            for name, value in extra.items():
                setattr(record, name, _mask_text(value, maskers))


_FILTER = MaskingFilter()
_LOGGERS = (
    "tempest_sdk.app",
    "tempest_sdk.runner",
    "tempest_sdk.runner.operations",
    "tempest_sdk.client",
)


def install_log_filter() -> None:
    """Put the masking filter on the SDK's own loggers (once; the application's
    logging stays as it configured it: see `MaskingFilter` for its handlers)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
