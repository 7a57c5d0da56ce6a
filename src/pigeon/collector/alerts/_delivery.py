"""Sending one alert to one webhook, and when to try again.

:func:`post` is blocking (``urllib.request`` with a timeout): run it in a
thread. It never raises: every result is an :class:`Outcome`, ``sent``,
``retry`` (connection error, timeout, 5xx, 429 with its ``Retry-After``) or
``failed`` (any other status: the receiver refuses the alert, trying again
would not help). :func:`retry_delay` spaces retries exponentially, capped,
with jitter so that many pending deliveries do not come back together.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pigeon._version import __version__
from pigeon.collector.alerts._config import Format
from pigeon.collector.alerts._rules import Alert

__all__ = [
    "FIRST_RETRY_SECONDS",
    "MAX_ATTEMPTS",
    "MAX_RETRY_SECONDS",
    "Outcome",
    "body_of",
    "post",
    "retry_delay",
    "text_of",
]

FIRST_RETRY_SECONDS: Final = 30.0
"""The delay before the second attempt; it doubles with each attempt after."""
MAX_RETRY_SECONDS: Final = 3600.0
"""No delay (``Retry-After`` included) is longer than this."""
MAX_ATTEMPTS: Final = 10
"""After this many attempts a delivery is ``failed``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt.

    Attributes:
        result: ``sent``, ``retry`` or ``failed``.
        error: why it was not sent (``HTTP 503``, ``timeout``...), never the body.
        retry_after: seconds the receiver asked to wait (``Retry-After``), if any.
    """

    result: Literal["sent", "retry", "failed"]
    error: str | None = None
    retry_after: float | None = None


def text_of(alert: Alert) -> str:
    """One line a person reads: what happened, where, how much."""
    problem = " ".join(v for v in alert.problem.values() if v)
    numbers = alert.numbers
    where = f"{alert.app} {alert.version}" if alert.version else alert.app
    what = "crash" if alert.what == "crash" else "error"
    if alert.kind == "new":
        return (
            f"New {what} in {where}: {problem} ({numbers.get('events')} events from "
            f"{numbers.get('installs')} installs in the last {numbers.get('days')} days)"
        )
    before, previous = numbers.get("previous_rate"), numbers.get("previous_version")
    was = f"{before} in {previous}" if before is not None else f"not reported or rare in {previous}"
    return (
        f"{what.capitalize()} rate up in {where}: {problem}, {numbers.get('rate')} per 100 "
        f"installs per day (was {was}; {numbers.get('installs')} installs affected)"
    )


def body_of(alert: Alert, raised_ms: int, form: Format) -> dict[str, Any]:
    """The JSON body of one delivery in the webhook's format."""
    text = text_of(alert)
    if form == "slack":
        # Slack reads &, < and > as markup (links, mentions): data must not inject any.
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return {
            "text": safe,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": safe}}],
        }
    time = dt.datetime.fromtimestamp(raised_ms / 1000, dt.UTC).isoformat(timespec="seconds")
    return {
        "alert": {
            **alert.fields(),
            "time": time.replace("+00:00", "Z"),
            "text": text,
        }
    }


def post(url: str, body: Mapping[str, Any], timeout: float) -> Outcome:
    """POST ``body`` as JSON to ``url`` and classify the answer (never raises)."""
    # The URL's scheme is http or https: parse_alerts refused any other.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": f"pigeon/{__version__}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
            return Outcome("sent")
    except urllib.error.HTTPError as exc:
        status = exc.code
        retry_after = _retry_after(exc.headers.get("Retry-After"))
        exc.close()
        if status == 429 or status >= 500:
            return Outcome("retry", f"HTTP {status}", retry_after)
        return Outcome("failed", f"HTTP {status}")
    except TimeoutError:
        return Outcome("retry", "timeout")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return Outcome("retry", "timeout")
        return Outcome("retry", f"cannot connect: {_reason(exc.reason)}")
    except OSError as exc:
        return Outcome("retry", f"cannot connect: {_reason(exc)}")


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def retry_delay(
    attempts: int,
    retry_after: float | None = None,
    *,
    first: float = FIRST_RETRY_SECONDS,
    cap: float = MAX_RETRY_SECONDS,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first).

    ``first`` doubling per attempt, capped at ``cap``, then shortened by up to
    a quarter at random; a ``Retry-After`` longer than that wins (capped too).
    """
    delay: float = min(cap, first * 2.0 ** max(0, attempts - 1))
    delay *= 1 - 0.25 * jitter()
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay
