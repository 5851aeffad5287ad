"""Identifiers that look real, never collide, and cost almost nothing per record.

Generation must stay vectorized at ten million records per side, so every id
is a pure function of a small integer drawn from a per-(sponsor, day) counter.
Scrambling the counter through a bijection keeps ids unique by construction
(no retry loop, no set of seen values) while making them look random, and a
salt derived from the seed makes two seeds produce different ids.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: Confirmation keys live in 50 bits: 23 bits of (sponsor, day) slot, 27 of counter.
_CONF_BITS = 50
_CONF_MASK = (1 << _CONF_BITS) - 1
_LOCAL_BITS = 27
MAX_LOCAL = 1 << _LOCAL_BITS
MAX_DAYS = 4096
MAX_SPONSORS = 1 << (_CONF_BITS - _LOCAL_BITS - 12)
_CONF_MULT = 0x9E3779B97F4A7C15  # odd, so multiplication is a bijection mod 2**50

#: Trace numbers are N12 from 10**11 up (no leading zero, so they are written
#: as plain integers): (day code, counter) scrambled modulo 9 * 10**11.
_TRACE_MOD = 9 * 10**11
_TRACE_LOCAL = 10**8
_TRACE_MULT = 7_777_777  # coprime with 2, 3 and 5: a bijection mod 9 * 10**11

_TRIPLES = [a + b + c for a in ALPHABET for b in ALPHABET for c in ALPHABET]
#: Index p in [0, 2028): no prefix, one letter or two letters -> lengths 10, 11, 12.
_PREFIXES = (
    [""] * 676
    + [ALPHABET[10 + i % 26] for i in range(676)]
    + [ALPHABET[10 + i % 26] + ALPHABET[10 + i // 26] for i in range(676)]
)


@cache
def _heads(glue: str) -> pl.Series:
    """Length prefix and first base-36 digit in one table (index p * 36 + digit): one gather."""
    return pl.Series([glue + p + d for p in _PREFIXES for d in ALPHABET])


@cache
def _triples(glue: str) -> pl.Series:
    """Three base-36 digits per index, followed by ``glue``."""
    return pl.Series([t + glue for t in _TRIPLES])


def salt_for(seed: int) -> int:
    """A 50-bit salt from the seed, so ids differ between seeds but not between runs."""
    mixed = np.random.default_rng([seed, 0x5EED]).integers(0, 1 << _CONF_BITS)
    return int(mixed)


def conf_mix(column: str, salt: int) -> pl.Expr:
    """The scrambled 50-bit value behind a confirmation key (a bijection of the key).

    Computed once per chunk into its own column, so the four digit groups of
    ``conf_text`` do not each recompute it.
    """
    safe = pl.col(column).clip(lower_bound=0)
    mixed = (
        (safe.xor(pl.lit(salt, pl.Int64)).cast(pl.UInt64) * pl.lit(_CONF_MULT, pl.UInt64))
        & pl.lit(_CONF_MASK, pl.UInt64)
    ).cast(pl.Int64)
    return mixed.xor(mixed // (1 << 23))


def conf_text(column: str, mixed: str, prefix: str = "", suffix: str = "") -> pl.Expr:
    """Confirmation numbers: 10-12 uppercase letters and digits, null for a negative key.

    The last ten characters are base 36 of the bijective scramble ``mixed``
    (see ``conf_mix``), so distinct keys always give distinct strings; the
    optional one- or two-letter prefix only varies the length, as real
    confirmation numbers do. ``prefix``/``suffix`` are literal text around a
    present number (a writer's separator glue).
    """
    key, v = pl.col(column), pl.col(mixed)
    head = (key.clip(lower_bound=0) * 7919) % 2028 * 36 + v // (46656**3) % 36
    text = pl.concat_str(
        [
            pl.lit(_heads(prefix)).gather(head),
            pl.lit(_triples("")).gather(v // (46656**2) % 46656),
            pl.lit(_triples("")).gather(v // 46656 % 46656),
            pl.lit(_triples(suffix)).gather(v % 46656),
        ]
    )
    return pl.when(key >= 0).then(text)


def conf_strings(keys: np.ndarray, salt: int) -> list[str]:
    """Confirmation numbers of a few keys as Python strings (for the ground truth)."""
    frame = pl.DataFrame({"k": np.asarray(keys, dtype=np.int64)})
    mixed = frame.with_columns(conf_mix("k", salt).alias("_m"))
    return mixed.select(conf_text("k", "_m").fill_null("")).to_series().to_list()


def terminal_ids(store: np.ndarray, device: np.ndarray, salt: int) -> np.ndarray:
    """A 16-digit card terminal id per (store, lane): the same lane always has the same terminal."""
    lane = store.astype(np.int64) * 1000 + device.astype(np.int64)
    return 10**15 + (lane * 2_654_435_761 + salt) % (9 * 10**15)


class IdAllocator:
    """Hands out confirmation keys and trace numbers for one sponsor and business day.

    Injected cases draw first, then the bulk, from the same counters, so no
    two records of a sponsor and day share a trace number and no two records
    anywhere share a confirmation number.
    """

    def __init__(self, sponsor_index: int, day_index: int, day_ordinal: int) -> None:
        """Create the counters of one (sponsor, day) slot."""
        slot = sponsor_index * MAX_DAYS + day_index
        self._conf_base = slot << _LOCAL_BITS
        self._trace_base = (day_ordinal % 9_000) * _TRACE_LOCAL
        self._next_conf = 0
        self._next_trace = 0

    def confs(self, n: int) -> np.ndarray:
        """``n`` fresh confirmation keys (render with ``conf_text``)."""
        start = self._next_conf
        self._next_conf += n
        if self._next_conf > MAX_LOCAL:
            raise ValueError("too many records for one sponsor and day")
        return self._conf_base + np.arange(start, start + n, dtype=np.int64)

    def traces(self, n: int) -> np.ndarray:
        """``n`` fresh 12-digit trace numbers, unique within the day."""
        start = self._next_trace
        self._next_trace += n
        if self._next_trace > _TRACE_LOCAL:
            raise ValueError("too many records for one sponsor and day")
        local = self._trace_base + np.arange(start, start + n, dtype=np.int64)
        return 10**11 + (local * _TRACE_MULT + 314_159_265_358) % _TRACE_MOD
