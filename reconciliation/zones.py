"""Reconciliation time zones: a fixed offset (the default, EST without daylight saving) or an IANA name.

The business day, the reversal deadline and the daily-limit day are all
instants in one zone (spec §3); ``Zone`` computes them as UTC intervals so
that everything downstream compares UTC instants only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciliation.errors import ConfigError

FIXED_EST = "-05:00"


@dataclass(frozen=True)
class Zone:
    """A reconciliation time zone: a fixed offset (default EST) or an IANA name.

    Attributes:
        name: As written in configuration, e.g. ``-05:00`` or ``America/Toronto``.
        polars_name: The name Polars and zoneinfo understand (``Etc/GMT+5`` for -05:00).
    """

    name: str
    polars_name: str

    @property
    def tz(self) -> tzinfo:
        """The zone as a ``tzinfo``."""
        return ZoneInfo(self.polars_name)

    def at(self, day: date, hour: int = 0) -> datetime:
        """The UTC instant of ``day`` at ``hour``:00 local time."""
        local = datetime.combine(day, time(hour), tzinfo=self.tz)
        return local.astimezone(UTC)

    def business_day(self, day: date) -> tuple[datetime, datetime]:
        """Business day ``day`` as a half-open UTC interval (spec §3)."""
        return self.at(day), self.at(day + timedelta(days=1))

    def reversal_deadline(self, day: date) -> datetime:
        """Deadline for reversing a REDEEM of business day ``day``: D+1 03:00."""
        return self.at(day + timedelta(days=1), 3)

    def limit_day(self, day: date) -> tuple[datetime, datetime]:
        """Limit day ``day``: [L 03:00, L+1 03:00) as UTC instants."""
        return self.at(day, 3), self.at(day + timedelta(days=1), 3)


def parse_zone(value: str) -> Zone:
    """Accept ``EST``, a whole-hour offset like ``-05:00``, or an IANA zone name."""
    text = str(value).strip()
    if text.upper() == "EST":
        text = FIXED_EST
    if text[:1] in "+-" and len(text) in (3, 5, 6):
        digits = text[1:].replace(":", "")
        if not digits.isdigit() or len(digits) not in (2, 4) or digits[2:] not in ("", "00"):
            raise ConfigError(f"time zone {value!r} must be a whole-hour offset like -05:00")
        hours = int(digits[:2])
        if hours > 14:
            raise ConfigError(f"time zone {value!r} is out of range")
        sign = "-" if text[0] == "+" else "+"  # Etc/GMT signs are inverted
        name = "Etc/UTC" if hours == 0 else f"Etc/GMT{sign}{hours}"
        return Zone(text, name)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"time zone {value!r} is neither an offset nor a known IANA name") from None
    return Zone(text, text)
