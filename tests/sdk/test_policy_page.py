"""The policy page generated from a catalog states every item of the reference policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigeon._catalog_text import describe
from pigeon._policy_page import policy_page
from pigeon._settings import CI_MARKERS
from pigeon._system import build_context
from pigeon._wire import MessageEncoder, encode_batch
from pigeon.catalog import Catalog

ARGILLA = Catalog.load("argilla")
PAGE = policy_page(ARGILLA)
COMMITTED = Path(__file__).parents[2] / "docs" / "telemetry-argilla.md"


def leaf_paths(value: object, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of a decoded JSON object."""
    if not isinstance(value, dict):
        return [prefix]
    paths = []
    for key, inner in value.items():
        paths += leaf_paths(inner, f"{prefix}.{key}" if prefix else key)
    return paths


def wire_fields() -> list[str]:
    """Every field the SDK sends besides the event's own properties, from the encoder itself."""
    context = build_context("argilla", "1.29.0", ARGILLA.name, ARGILLA.version)
    message = MessageEncoder("00000000-0000-4000-8000-000000000000", context).encode(
        "ServerStarted", {}, 1_700_000_000.0
    )
    batch = json.loads(encode_batch([message]))
    fields = [key for key in batch if key != "batch"]
    decoded = batch["batch"][0]
    for key in ("type", "event", "properties"):  # the event itself: checked against the catalog
        del decoded[key]
    return fields + leaf_paths(decoded)


def section(page: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = page.index(f"\n{heading}\n")
    rest = page[start + len(heading) + 2 :]
    ends = [rest.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)]
    found = [end for end in ends if end >= 0]
    return rest[: min(found)] if found else rest


def test_the_wire_fields_are_found_in_the_code() -> None:
    fields = wire_fields()
    # Guard the derivation itself: it must see the nested context, not just its top keys.
    assert "context.runtime.python_version" in fields
    assert "anonymousId" in fields
    assert "sentAt" in fields
    assert len(fields) > 15


@pytest.mark.parametrize("field", wire_fields())
def test_every_wire_field_is_on_the_page(field: str) -> None:
    assert f"`{field}`" in PAGE


def cell(text: str) -> str:
    """``text`` as a Markdown table cell shows it (``<other>`` is not an HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def test_every_event_and_property_is_on_the_page_with_type_bounds_and_purpose() -> None:
    for event in ARGILLA.events.values():
        text = section(PAGE, f"#### `{event.name}`")
        assert event.purpose in text
        assert event.sent_from.split(",")[0].strip() in text
        for prop in event.properties.values():
            assert f"| `{prop.name}` | {cell(describe(prop))} | {cell(prop.purpose)} |" in text
        if not event.properties:
            assert "No properties" in text


def test_opt_out_in_every_shell() -> None:
    text = section(PAGE, "## How to opt out")
    assert "export ARGILLA_ENABLE_TELEMETRY=0\n" in text  # Linux and macOS
    assert "set ARGILLA_ENABLE_TELEMETRY=0\n" in text  # Windows cmd
    assert "$env:ARGILLA_ENABLE_TELEMETRY=0\n" in text  # Windows PowerShell
    assert "Linux and macOS" in text
    assert "Windows" in text
    assert "`0` disables telemetry and `1` re-enables it" in text
    assert "`DO_NOT_TRACK=1`" in text
    assert "disabled unless `ARGILLA_ENABLE_TELEMETRY=1`" in text
    for marker in CI_MARKERS:
        assert f"`{marker}`" in text


def test_the_reported_fields_are_listed_in_words() -> None:
    text = section(PAGE, "### Sent with every event")
    for item in (
        "anonymous install id",
        "app name and version",
        "Python version",
        "OS system",
        "release",
        "version string",
        "machine",
        "platform string",
        "SDK and catalog versions",
    ):
        assert item in text, item


def test_the_reference_sources_are_named() -> None:
    text = section(PAGE, "### The events")
    assert "`GET /api/me`" in text
    assert "`POST /api/datasets/{name}/{task}:bulk`" in text
    assert "every raised API error" in text
    assert "trainer usage" in text


def test_what_is_never_collected() -> None:
    text = section(PAGE, "## What is never collected")
    for item in (
        "IP addresses",
        "hostnames",
        "user names",
        "paths",
        "dataset names",
        "records",
        "metadata",
        "exception messages",
    ):
        assert f"\n- {item}" in f"\n{text}", item


def test_transparency_commands_and_the_id_file() -> None:
    for command in (
        "pigeon status --app argilla",
        "pigeon preview --app argilla",
        "pigeon catalog show argilla",
        "pigeon log --app argilla",
    ):
        assert command in section(PAGE, "## See for yourself")
    text = section(PAGE, "## The anonymous install id")
    assert "`~/.local/share/argilla/telemetry_id`" in text
    assert "`~/Library/Application Support/argilla/telemetry_id`" in text
    assert "`%LOCALAPPDATA%\\argilla\\telemetry_id`" in text


def test_the_prefix_is_the_app_name_upper_cased() -> None:
    other = Catalog.from_toml(
        '[catalog]\nname = "my-app"\nversion = "3"\n'
        '[events.Ping]\npurpose = "Liveness | uptime."\n'
        '[events.Ping.properties.n]\ntype = "integer"\npurpose = "A | B."\n'
    )
    page = policy_page(other)
    assert "export MY_APP_ENABLE_TELEMETRY=0\n" in page
    assert "$env:MY_APP_ENABLE_TELEMETRY=0\n" in page
    assert "ARGILLA" not in page
    assert "| `n` | integer | A \\| B. |" in page  # a pipe cannot break the table
    assert "Sent from" not in page  # the catalog does not say


def test_the_committed_page_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == PAGE, (
        "docs/telemetry-argilla.md is stale: run "
        "`pigeon catalog docs argilla --output docs/telemetry-argilla.md`"
    )


def test_the_modes_the_ledger_and_consent_notices() -> None:
    modes = section(PAGE, "## Modes: off, local, on")
    for value in ("local", "off", "on"):
        assert f"export ARGILLA_TELEMETRY_MODE={value} " in modes
    assert "opens no network connection" in modes
    ledger = section(PAGE, "## The local ledger: what left your machine")
    assert "`telemetry_ledger/`" in ledger
    assert "pigeon log --app argilla --json" in ledger
    grows = section(PAGE, "## When this page grows")
    assert "nothing added is sent before that notice has been shown" in grows
