"""Times: stored as naive UTC, shown in the viewer's time zone, typed in it too.

Pages print every time as ``<time datetime="…Z" data-local>… UTC</time>``: readable without
JavaScript (UTC, labelled), and app.js rewrites it in the browser's own zone. A form sends the
browser's IANA zone in a hidden ``tz`` field (app.js fills it), so a deadline typed as
"2026-12-24 23:59" means 23:59 where the instructor is; without it the time is UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape


class TimeError(ValueError):
    """A time that cannot be read (clear message)."""


def zone(name: str | None) -> dt.tzinfo:
    """Return the zone called ``name`` (UTC when empty or unknown: never an error)."""
    if not name or len(name) > 64:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def parse(text: str | None, tz: str | None = None) -> dt.datetime | None:
    """Read an ISO time (``2026-12-24T23:59``, a space or ``Z``/offset allowed) as naive UTC.

    A time without a zone is in ``tz`` (UTC by default, as the CLI says); empty is None.

    Examples:
        >>> parse("2026-12-24T23:59")
        datetime.datetime(2026, 12, 24, 23, 59)
        >>> parse("2026-12-24 23:59", "Europe/Paris")
        datetime.datetime(2026, 12, 24, 22, 59)
        >>> parse("2026-12-24T23:59:00+02:00")
        datetime.datetime(2026, 12, 24, 21, 59)
    """
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > 40:
        raise TimeError("that is not a date and time (too long)")
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise TimeError(f"{text!r} is not a date and time; write e.g. 2026-12-24T23:59") \
            from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    try:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        raise TimeError(f"{text!r} is out of range") from None


def iso(value: dt.datetime | None) -> str:
    """Return a stored time as ISO 8601 UTC with ``Z`` (empty for None)."""
    return "" if value is None else value.replace(microsecond=0).isoformat() + "Z"


def local_input(value: dt.datetime | None, tz: str | None = None) -> str:
    """Return a stored time as a ``datetime-local`` field value in zone ``tz``."""
    if value is None:
        return ""
    return value.replace(tzinfo=dt.UTC).astimezone(zone(tz)).strftime("%Y-%m-%dT%H:%M")


def when(value: dt.datetime | None, empty: str = "—") -> Markup:
    """The ``when`` template filter: a <time> the browser shows in its own zone."""
    if value is None:
        return Markup(escape(empty))
    return Markup('<time datetime="{0}" data-local>{1} UTC</time>').format(
        iso(value), value.strftime("%Y-%m-%d %H:%M"))


def init_app(app) -> None:
    """Register the ``when`` filter."""
    app.add_template_filter(when, "when")
