"""Crash facts from real tracebacks: frames, collapse, truncation, signatures, report_exception."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType

import pytest

import pigeon
from pigeon._crash import CrashDescriber, crash_signature, exception_name, signature_problem
from pigeon.catalog import Catalog
from pigeon.testing import MemoryTransport, capture_events
from tests.sdk._apps import AppLoader, app_loader

__all__ = ["app_loader"]  # the fixture, re-exported for pytest

ARGILLA = Catalog.load("argilla")

STORE = """\
import json


class Broken(Exception):
    class Detail(Exception):
        pass


def hook(obj):
    return obj["missing"]


def parse(text):
    return json.loads(text, object_hook=hook)


def pick(flag):
    if flag:
        raise Broken("first")
    raise Broken("second")


def deep(n):
    if n == 0:
        raise Broken.Detail("bottom")
    return deep(n - 1)
"""

API = """\
from {package} import store


def handle(text):
    return store.parse(text)
"""


def line_of(module: ModuleType, text: str) -> int:
    """The 1-based line of the first source line containing ``text``."""
    source = Path(str(module.__file__)).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(source, 1) if text in line)


def raised(call: object, *args: object) -> BaseException:
    try:
        call(*args)  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def describer(package: str, *, max_frames: int = 32, max_length: int = 200) -> CrashDescriber:
    return CrashDescriber(package, max_frames=max_frames, max_length=max_length)


def load_app(app_loader: AppLoader, package: str = "crashapp") -> dict[str, ModuleType]:
    return app_loader.load(package, {"store": STORE, "api": API.format(package=package)})


# -- frames ----------------------------------------------------------------------------


def test_frames_are_app_code_outermost_first_with_other_code_collapsed(
    app_loader: AppLoader,
) -> None:
    app = load_app(app_loader)
    crash = describer("crashapp")(raised(app["api"].handle, "{}"))
    store, api = app["store"], app["api"]
    assert crash.exception == "KeyError"
    assert crash.frames == (
        "<other>",  # this test module
        f"crashapp.api:handle:{line_of(api, 'return store.parse')}",
        f"crashapp.store:parse:{line_of(store, 'return json.loads')}",
        "<other>",  # json's decoder, however many frames it took
        f"crashapp.store:hook:{line_of(store, 'obj[')}",
    )


def test_a_submodule_of_the_package_is_the_apps_own_and_a_lookalike_is_not(
    app_loader: AppLoader,
) -> None:
    app = load_app(app_loader, "crashapp_extra")
    crash = describer("crashapp")(raised(app["api"].handle, "{}"))
    assert crash.frames == ("<other>",)  # `crashapp_extra` is not `crashapp.*`
    assert describer("crashapp_extra.store")(raised(app["api"].handle, "{}")).frames[1:2] == (
        f"crashapp_extra.store:parse:{line_of(app['store'], 'return json.loads')}",
    )


def test_exception_names_are_module_and_qualname_builtins_bare(app_loader: AppLoader) -> None:
    store = load_app(app_loader)["store"]
    assert exception_name(KeyError) == "KeyError"
    assert exception_name(store.Broken) == "crashapp.store.Broken"
    assert exception_name(store.Broken.Detail) == "crashapp.store.Broken.Detail"
    assert describer("crashapp")(raised(store.deep, 0)).exception == "crashapp.store.Broken.Detail"


def test_the_innermost_frames_are_kept_when_there_are_too_many(app_loader: AppLoader) -> None:
    store = load_app(app_loader)["store"]
    crash = describer("crashapp", max_frames=32)(raised(store.deep, 40))
    assert len(crash.frames) == 32
    assert crash.frames[-1] == f"crashapp.store:deep:{line_of(store, 'raise Broken.Detail')}"
    assert set(crash.frames) == {
        f"crashapp.store:deep:{line_of(store, 'raise Broken.Detail')}",
        f"crashapp.store:deep:{line_of(store, 'return deep(n - 1)')}",
    }
    shallow = describer("crashapp", max_frames=32)(raised(store.deep, 3))
    assert shallow.frames[0] == "<other>"
    assert len(shallow.frames) == 5


def test_line_numbers_are_read_per_exception_not_memoised(app_loader: AppLoader) -> None:
    store = load_app(app_loader)["store"]
    describe = describer("crashapp")
    first, second = describe(raised(store.pick, True)), describe(raised(store.pick, False))
    first_line, second_line = line_of(store, '"first"'), line_of(store, '"second"')
    assert first.frames[-1] == f"crashapp.store:pick:{first_line}"
    assert second.frames[-1] == f"crashapp.store:pick:{second_line}"
    assert first.signature == second.signature


def test_frames_that_cannot_be_plain_names_or_are_too_long_count_as_other_code(
    app_loader: AppLoader,
) -> None:
    odd = app_loader.load("crashapp", {"odd": "def café():\n    raise KeyError(1)\n"})["odd"]
    assert describer("crashapp")(raised(odd.café)).frames == ("<other>",)
    store = load_app(app_loader)["store"]
    assert describer("crashapp", max_length=20)(raised(store.pick, True)).frames == ("<other>",)


def test_an_exception_without_traceback_has_no_frames() -> None:
    crash = describer("crashapp")(ValueError("never raised"))
    assert crash.frames == ()
    assert crash.signature == crash_signature("ValueError", ())


def test_every_crash_satisfies_the_catalog(app_loader: AppLoader) -> None:
    store = load_app(app_loader)["store"]
    spec = ARGILLA.events["CrashReported"].properties["frames"]
    describe = describer("crashapp", max_frames=spec.max_frames, max_length=spec.max_length)
    for exc in (raised(store.deep, 100), raised(store.parse, "{}"), raised(store.pick, 1)):
        properties = describe(exc).properties()
        result = ARGILLA.validate("CrashReported", properties)
        assert result.ok, result.problems
        assert result.properties == properties


# -- signatures ------------------------------------------------------------------------


def test_the_signature_is_sha256_of_class_and_frames_without_lines(app_loader: AppLoader) -> None:
    crash = describer("crashapp")(raised(load_app(app_loader)["api"].handle, "{}"))
    places = [f if f == "<other>" else f.rsplit(":", 1)[0] for f in crash.frames]
    text = "\n".join([crash.exception, *places])
    assert crash.signature == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert len(crash.signature) == 16
    assert int(crash.signature, 16) >= 0
    assert crash.signature == crash_signature(crash.exception, crash.frames)


def test_the_signature_survives_shifted_lines_and_changes_with_a_function(
    app_loader: AppLoader,
) -> None:
    describe = describer("crashapp")
    before = describe(raised(load_app(app_loader)["api"].handle, "{}"))
    shifted = app_loader.load(
        "crashapp",
        {"store": "\n\n\n# moved\n" + STORE, "api": "\n\n" + API.format(package="crashapp")},
    )
    after = describe(raised(shifted["api"].handle, "{}"))
    assert after.frames != before.frames  # other line numbers...
    assert after.signature == before.signature  # ...the same crash
    renamed = app_loader.load(
        "crashapp",
        {"store": STORE.replace("hook", "on_object"), "api": API.format(package="crashapp")},
    )
    other = describe(raised(renamed["api"].handle, "{}"))
    assert other.signature != before.signature
    other_class = app_loader.load(
        "crashapp",
        {
            "store": STORE.replace('obj["missing"]', "obj.missing"),
            "api": API.format(package="crashapp"),
        },
    )
    assert describe(raised(other_class["api"].handle, "{}")).signature != before.signature


def test_a_class_name_too_long_for_the_catalog_is_cut_before_it_is_hashed(
    tmp_path: Path, app_loader: AppLoader
) -> None:
    # The catalog cuts strings to max_length: the signature must be the one of
    # what is sent, or nobody (the collector first) could recompute it.
    package = "crashapp_" + "deeply_nested_" * 10
    app = load_app(app_loader, package)
    longest = ARGILLA.events["CrashReported"].properties["exception"].max_length
    cls = type("Failure" * 3, (Exception,), {"__module__": f"{package}.errors"})
    assert len(exception_name(cls)) > longest
    telemetry = client(tmp_path, app_package=package)
    with capture_events() as events:
        try:
            app["api"].handle("{}")
        except KeyError as exc:
            telemetry.report_exception(cls().with_traceback(exc.__traceback__))
    (properties,) = events.properties("CrashReported")
    assert properties["exception"] == exception_name(cls)[:longest]
    frames = tuple(properties["frames"])
    assert properties["signature"] == crash_signature(properties["exception"], frames)
    assert signature_problem({**properties, "frames": frames}) is None
    telemetry.shutdown()


def test_a_signature_that_is_not_its_exceptions_and_frames_is_a_problem() -> None:
    frames = ("<other>", "argilla_server.api:list_records:140")
    signature = crash_signature("KeyError", frames)
    good: dict[str, object] = {"exception": "KeyError", "frames": frames, "signature": signature}
    assert signature_problem(good) is None
    for wrong in (
        {**good, "exception": "ValueError"},
        {**good, "frames": (*frames, "argilla_server.store:sort:52")},
        {**good, "signature": "0" * 16},
        {**good, "signature": signature.upper()},
    ):
        reason = signature_problem(wrong)
        assert reason is not None
        assert "KeyError" not in reason  # never quotes a value
        assert "argilla_server" not in reason
    # Lines are not part of it; an event without all three cannot be checked.
    assert (
        signature_problem({**good, "frames": ("<other>", "argilla_server.api:list_records:9")})
        is None
    )
    assert signature_problem({"exception": "KeyError", "signature": "0" * 16}) is None


# -- Client.report_exception -----------------------------------------------------------


def client(tmp_path: Path, **kwargs: object) -> pigeon.Client:
    kwargs.setdefault("transport", MemoryTransport())
    return pigeon.Client("argilla", "1.29.0", home=tmp_path / "home", **kwargs)  # type: ignore[arg-type]


def test_report_exception_sends_one_crash_reported(tmp_path: Path, app_loader: AppLoader) -> None:
    app = load_app(app_loader)
    telemetry = client(tmp_path, app_package="crashapp")
    with capture_events() as events:
        telemetry.report_exception(raised(app["api"].handle, "{}"))
    (properties,) = events.properties("CrashReported")
    assert properties["exception"] == "KeyError"
    assert properties["frames"][1].startswith("crashapp.api:handle:")
    assert properties["signature"] == crash_signature("KeyError", tuple(properties["frames"]))
    telemetry.shutdown()


def test_the_app_package_defaults_to_the_app_name(tmp_path: Path) -> None:
    assert pigeon.Client("my-app", "1", enabled=False).app_package == "my_app"
    assert pigeon.Client("my-app", "1", enabled=False, app_package="mine").app_package == "mine"


def test_report_exception_is_a_no_op_when_disabled(tmp_path: Path) -> None:
    for telemetry in (
        client(tmp_path, enabled=False),
        client(tmp_path, environ={"DO_NOT_TRACK": "1"}),
        client(tmp_path, environ={"ARGILLA_ENABLE_TELEMETRY": "0"}),
    ):
        with capture_events() as events:
            telemetry.report_exception(raised(json.loads, "{"))
        assert events == []
        assert telemetry._sender is None


def test_report_exception_is_a_no_op_without_crash_reported_in_the_catalog(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "small.toml"
    path.write_text('[catalog]\nname = "small"\nversion = "1"\n\n[events.Ping]\npurpose = "P."\n')
    transport = MemoryTransport()
    telemetry = client(tmp_path, catalog=str(path), transport=transport)
    telemetry.report_exception(raised(json.loads, "{"))
    telemetry.track("Ping")
    assert telemetry.flush(5)
    assert [m["event"] for m in transport.messages] == ["Ping"]
    assert "refused" not in caplog.text
    telemetry.shutdown()


def test_report_exception_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    telemetry = client(tmp_path)

    def broken(exc: BaseException) -> object:
        raise RuntimeError("broken describer")

    monkeypatch.setattr(telemetry, "_describe_crash", broken)
    with capture_events() as events:
        telemetry.report_exception(raised(json.loads, "{"))
    assert events == []
    monkeypatch.undo()

    def broken_track(event: str, properties: object = None) -> None:
        raise RuntimeError("broken track")

    monkeypatch.setattr(telemetry, "track", broken_track)
    telemetry.report_exception(raised(json.loads, "{"))  # does not raise
    telemetry.shutdown()
