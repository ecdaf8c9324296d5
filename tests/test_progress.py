"""Progbar: Keras 3 line format, in-place redraw only where it renders, bounded output."""
import io
import re
import sys
import types

import pytest

from dlc._progress import Progbar
from dlc.utils import Progbar as UtilsProgbar

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeClock:
    """A clock the test advances by hand, so timings are exact and nothing sleeps."""

    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def tick(self, dt):
        self.t += dt


@pytest.fixture
def static(monkeypatch):
    monkeypatch.setenv("DLC_PROGRESS", "static")


@pytest.fixture
def dynamic(monkeypatch):
    monkeypatch.setenv("DLC_PROGRESS", "dynamic")
    monkeypatch.setenv("COLUMNS", "200")  # wide: live frames are not cut to the window
    monkeypatch.delenv("NO_COLOR", raising=False)


def run_epoch(bar, clock, steps, first=1.0, per_step=0.025, values=None):
    """Drives `bar` like fit: a slow first step, then `per_step` seconds per step."""
    for step in range(steps):
        clock.tick(first if step == 0 else per_step)
        bar.update(step + 1, values(step) if values else None)


def test_utils_exports_the_same_class():
    assert UtilsProgbar is Progbar


def test_final_line_format_static(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(469, file=out, stateful_metrics=["accuracy", "loss", "val_accuracy"],
                  _clock=clock)
    run_epoch(bar, clock, 469, values=lambda s: [("accuracy", 0.98123), ("loss", 0.06118),
                                                 ("val_accuracy", 0.00042)])
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.count("\n") == 1 and text.endswith("\n")
    # 1 s warm-up + 468 * 25 ms = 12.7 s in total; per step leaves the first out: 25 ms.
    assert re.fullmatch(r"469/469 ━{20} 13s 25ms/step - accuracy: 0\.9812 - loss: 0\.0612"
                        r" - val_accuracy: 4\.2000e-04\n", text), text


def test_dynamic_redraws_in_place_with_padding(dynamic):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(10, file=out, interval=0.05, stateful_metrics=["loss"], _clock=clock)
    # The first step is slow, so the first ETA ("1:30" = 9 steps * 10 s) is longer than later
    # ones ("0s"): those lines must be padded to wipe out the longer one.
    for step in range(10):
        clock.tick(10.0 if step < 2 else 0.1)
        bar.update(step + 1, [("loss", 0.5)])
    text = out.getvalue()
    assert text.count("\r") == 10 and text.endswith("\n") and text.count("\n") == 1
    frames = ANSI.sub("", text).rstrip("\n").split("\r")[1:]
    assert len(frames) == 10
    assert "1:30" in frames[0]
    # Each frame covers at least the visible text of the one before it.
    assert all(len(b) >= len(a.rstrip()) for a, b in zip(frames, frames[1:])), frames
    assert any(len(b.rstrip()) < len(a.rstrip()) for a, b in zip(frames, frames[1:]))
    assert frames[-1].rstrip().endswith("- loss: 0.5000")
    assert frames[3].startswith(" 4/10 ━━━━━━━━") and frames[3].rstrip().endswith("0.5000")
    # Colours are on in a dynamic display: a green (done) and a white (to do) part.
    assert "\x1b[32m" in text and "\x1b[37m" in text


def test_no_color_dynamic(dynamic, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(4, file=out, _clock=clock)
    run_epoch(bar, clock, 4, per_step=0.1)
    text = out.getvalue()
    assert "\x1b" not in text and text.count("\r") == 4
    # Without colours, the part still to do is drawn with a lighter glyph.
    assert "━" * 10 + "─" * 10 in text and "━" * 20 in text


def test_rate_limit_bounds_output_for_10000_steps(dynamic):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(10000, file=out, interval=0.05, stateful_metrics=["loss"], _clock=clock)
    for step in range(10000):
        clock.tick(0.001)  # 10 s in all: at most 10 / 0.05 = 200 redraws, plus the final one
        bar.update(step + 1, [("loss", 1.0 / (step + 1))])
    text = out.getvalue()
    redraws = text.count("\r")
    assert 150 <= redraws <= 202, redraws
    longest = max(len(f) for f in text.split("\r"))
    assert len(text) <= 202 * longest
    assert text.endswith("\n") and "10000/10000" in text


def test_static_10000_updates_write_one_line(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(10000, file=out, _clock=clock)
    for step in range(10000):
        clock.tick(0.002)
        bar.update(step + 1, [("loss", 0.25)])
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" not in text
    assert text.startswith("10000/10000 ") and "20s 2ms/step" in text


def test_verbose_2_single_line(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(100, verbose=2, file=out, stateful_metrics=["loss"], _clock=clock)
    run_epoch(bar, clock, 100, values=lambda s: [("loss", 0.12345)])
    assert re.fullmatch(r"100/100 - 3s - 25ms/step - loss: 0\.1235\n", out.getvalue()), \
        out.getvalue()


def test_verbose_2_single_line_even_when_dynamic(dynamic):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(5, verbose=2, file=out, _clock=clock)
    run_epoch(bar, clock, 5)
    assert out.getvalue().count("\n") == 1 and "\r" not in out.getvalue()


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_verbose_0_silent(monkeypatch, mode):
    monkeypatch.setenv("DLC_PROGRESS", mode)
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(50, verbose=0, file=out, _clock=clock)
    run_epoch(bar, clock, 50, values=lambda s: [("loss", 1.0)])
    assert out.getvalue() == ""


@pytest.mark.parametrize("kwargs,step2,loss2,acc2,expected", [
    # stateless values are step-weighted means: loss counts for 2 steps, (1 + 8) / 3
    ({"stateful_metrics": ["acc"]}, 3, 4.0, 0.25, ("- loss: 3.0000", "- acc: 0.2500")),
    # the stateless_metrics argument: only loss is averaged, acc shows its last value
    ({"stateless_metrics": ["loss"]}, 2, 3.0, 0.75, ("- loss: 2.0000", "- acc: 0.7500")),
], ids=["stateless_values_are_step_weighted_means", "stateless_metrics_argument"])
def test_stateless_values(dynamic, monkeypatch, kwargs, step2, loss2, acc2, expected):
    monkeypatch.setenv("NO_COLOR", "1")
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(10, file=out, interval=0.0, _clock=clock, **kwargs)
    bar.update(1, [("loss", 1.0), ("acc", 0.5)])
    clock.tick(1)
    bar.update(step2, [("loss", loss2), ("acc", acc2)])
    last = out.getvalue().split("\r")[-1]
    assert all(e in last for e in expected)
    with pytest.raises(ValueError, match="only one of"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_value_formatting(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(1, file=out, stateful_metrics=["a", "b", "c", "d", "e"], _clock=clock)
    clock.tick(0.5)
    bar.update(1, [("a", 1e-5), ("b", -0.5), ("c", float("nan")), ("d", 123.456789),
                   ("e", -2e-4)])
    assert ("- a: 1.0000e-05 - b: -0.5000 - c: nan - d: 123.4568 - e: -2.0000e-04\n"
            in out.getvalue())
    assert "1/1 ━" in out.getvalue() and "0s 500ms/step" in out.getvalue()


def test_time_units(static):
    for per_step, expected in ((2.0, "2s/step"), (0.004, "4ms/step"), (0.00005, "50us/step")):
        out, clock = io.StringIO(), FakeClock()
        bar = Progbar(5, file=out, _clock=clock, unit_name="step")
        run_epoch(bar, clock, 5, first=per_step, per_step=per_step)
        assert expected in out.getvalue(), (per_step, out.getvalue())
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(2, file=out, _clock=clock, unit_name="sample")
    run_epoch(bar, clock, 2, first=0.01, per_step=0.01)
    assert "10ms/sample" in out.getvalue()


def test_eta_formats(dynamic, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    for per_step, expected in ((1.0, " 1:39 "), (100.0, " 2:45:00 "), (0.1, " 9s ")):
        out, clock = io.StringIO(), FakeClock()
        bar = Progbar(100, file=out, _clock=clock)
        clock.tick(per_step)
        bar.update(1)
        assert expected in out.getvalue(), (per_step, out.getvalue())


def test_unknown_target_and_finalize(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(None, file=out, stateful_metrics=["loss"], _clock=clock)
    run_epoch(bar, clock, 50, first=0.1, per_step=0.1, values=lambda s: [("loss", 0.5)])
    assert out.getvalue() == ""  # a static bar with no target prints only when finalized
    bar.update(50, [("loss", 0.5)], finalize=True)
    assert re.fullmatch(r" {5}50/Unknown 5s 100ms/step - loss: 0\.5000\n", out.getvalue())


def test_add(static):
    out, clock = io.StringIO(), FakeClock()
    bar = Progbar(6, file=out, _clock=clock)
    for _ in range(3):
        clock.tick(0.1)
        bar.add(2)
    assert out.getvalue().startswith("6/6 ━━")
    assert out.getvalue().count("\n") == 1


def test_detects_jupyter(monkeypatch, capsys):
    monkeypatch.delenv("DLC_PROGRESS", raising=False)
    ZMQInteractiveShell = type("ZMQInteractiveShell", (), {})
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    clock = FakeClock()
    bar = Progbar(3, _clock=clock)
    run_epoch(bar, clock, 3, per_step=0.1)
    assert capsys.readouterr().out.count("\r") == 3

    # A plain IPython terminal shell is not a notebook; captured stdout is not a terminal.
    TerminalInteractiveShell = type("TerminalInteractiveShell", (), {})
    fake_ipython.get_ipython = lambda: TerminalInteractiveShell()
    bar = Progbar(3, _clock=clock)
    run_epoch(bar, clock, 3)
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 1


def test_detects_terminal_and_pipe(monkeypatch):
    monkeypatch.delenv("DLC_PROGRESS", raising=False)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    clock = FakeClock()
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progbar(3, file=stream, _clock=clock)
        run_epoch(bar, clock, 3, per_step=0.1)
    assert tty.getvalue().count("\r") == 3
    assert "\r" not in pipe.getvalue() and pipe.getvalue().count("\n") == 1


def test_ascii_stream_fallback(static):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    clock = FakeClock()
    bar = Progbar(4, file=stream, _clock=clock)
    run_epoch(bar, clock, 4)
    stream.flush()
    assert raw.getvalue().decode("ascii").startswith("4/4 " + "=" * 20 + " ")


def test_argument_validation():
    with pytest.raises(ValueError, match="verbose"):
        Progbar(3, verbose=3)
    with pytest.raises(ValueError, match="target"):
        Progbar(2.5)


def test_live_frames_fit_the_terminal_width(monkeypatch):
    monkeypatch.delenv("DLC_PROGRESS", raising=False)
    monkeypatch.setenv("COLUMNS", "60")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, clock = Tty(), FakeClock()
    bar = Progbar(5, file=out, stateful_metrics=["accuracy", "loss"], _clock=clock)
    run_epoch(bar, clock, 5, per_step=0.1,
              values=lambda s: [("accuracy", 0.5), ("loss", 0.25)])
    frames = ANSI.sub("", out.getvalue()).rstrip("\n").split("\r")[1:]
    assert len(frames) == 5
    assert all(len(f) <= 59 for f in frames[:-1]), [len(f) for f in frames]
    assert frames[0].startswith("1/5 ") and "- accur" in frames[0]
    assert frames[-1].rstrip().endswith("- accuracy: 0.5000 - loss: 0.2500")  # final: whole


def test_notebook_bar_is_one_display_replaced_in_place(monkeypatch):
    """In a notebook kernel the live bar is a display updated in place: the saved notebook
    keeps one line per epoch however many steps (a stream with '\\r' keeps every frame)."""
    import io
    from dlc import _progress

    shown = []

    class FakeHandle:
        def update(self, text):
            shown[-1] = text

    def fake_handle(text):
        shown.append(text)
        return FakeHandle()

    monkeypatch.delenv("DLC_PROGRESS", raising=False)
    monkeypatch.setattr(_progress, "_in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "_notebook_handle", fake_handle)
    out = io.StringIO()
    monkeypatch.setattr(_progress.sys, "stdout", out)
    clock = iter(range(0, 10_000_000, 1))
    bar = _progress.Progbar(10_000, _clock=lambda: next(clock) * 0.01)
    for step in range(1, 10_001):
        bar.update(step, [("loss", 0.5)])
    assert len(shown) == 1 and shown[0].startswith("10000/10000")
    assert "\x1b[" not in shown[0]
    assert out.getvalue() == ""
