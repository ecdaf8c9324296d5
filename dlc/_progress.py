"""Text progress bar shared by `fit`, `evaluate` and `predict`; public as `dlc.utils.Progbar`.

A finished bar reads like the Keras 3 one:

    469/469 ━━━━━━━━━━━━━━━━━━━━ 12s 25ms/step - accuracy: 0.9812 - loss: 0.0612

How it is drawn depends on the destination stream:
- interactive (a terminal, or a Jupyter/Colab notebook): a single line that is rewritten in
  place ('\r') no more often than every `interval` seconds, so the amount of text stays small
  however many steps an epoch has;
- non-interactive (pipes, log files, CI consoles): nothing until the bar completes, then that
  one final line, without any '\r'.
To override the guess, set the environment variable `DLC_PROGRESS` to `dynamic` or `static`.
Defining `NO_COLOR` (to anything) removes the ANSI colour codes from the interactive line.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import sys
import time
from typing import Any, Callable, Iterable, List, Optional, Sequence, TextIO, Tuple

import numpy as np

__all__ = ["Progbar"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _in_notebook() -> bool:
    """Whether we run in a notebook kernel (Jupyter's ipykernel or Colab): those render '\\r'."""
    if "ipykernel" not in sys.modules and "google.colab" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # never let a half-working IPython stop the training loop from printing
        return False
    return type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


def _notebook_handle(text: str) -> Any:
    """A display handle showing `text`, to be replaced in place with `.update(...)`, or None
    when IPython's display machinery is not available. In a notebook this keeps the saved
    output to one line per bar, however many redraws a long epoch makes (a stream with '\r'
    stores every frame)."""
    try:
        from IPython.display import Pretty, display
    except Exception:
        return None
    handle = display(Pretty(text), display_id=True)
    if handle is None:
        return None

    class _Handle:
        def update(self, new_text: str) -> None:
            handle.update(Pretty(new_text))

    return _Handle()


def _is_dynamic(file: Optional[TextIO]) -> bool:
    """Decides between the live, redrawn display (True) and the final-line-only one (False)."""
    forced = os.environ.get("DLC_PROGRESS", "").strip().lower()
    if forced in ("dynamic", "static"):
        return forced == "dynamic"
    stream = sys.stdout if file is None else file
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) and _in_notebook():
        return True
    if "PYCHARM_HOSTED" in os.environ and stream in (sys.stdout, sys.stderr):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # isatty() fails on a closed or detached stream
        return False


def _can_encode(stream: Any, text: str) -> bool:
    """Whether `text` survives the stream's encoding (else the bar falls back to ASCII)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # in-memory text streams (io.StringIO) have no encoding to fail
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _format_value(value: float) -> str:
    """Metric text: fixed point with 4 decimals, switching to exponent form at magnitude <= 1e-3."""
    return format(value, ".4f" if abs(value) > 1e-3 else ".4e")


def _format_eta(seconds: float) -> str:
    """Remaining time: `h:mm:ss` above an hour, `m:ss` above a minute, else whole seconds."""
    whole = int(seconds)
    if seconds <= 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if seconds <= 3600:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    """Average duration of one unit, as a rounded count of s, ms or us (e.g. `25ms/step`)."""
    if seconds == 0 or seconds >= 1:
        scale, suffix = 1.0, "s"
    elif seconds >= 1e-3:
        scale, suffix = 1e3, "ms"
    else:
        scale, suffix = 1e6, "us"
    return f"{seconds * scale:.0f}{suffix}/{unit_name}"


class Progbar:
    """A progress bar with timing and metric values, printed as a loop advances.

    Call `update()` with the number of steps completed (or `add()` with how many were just
    done), optionally passing metric values. Each metric is shown in one of two ways:
    - averaged: the bar shows the mean of all values received so far, each weighted by the
      number of steps it covers. This is what a metric gets by default;
    - as given: the latest value is shown unchanged, which suits numbers the caller already
      accumulates itself (`fit` sends running means, and so lists no metric for averaging).
    Name the metrics to show as given in `stateful_metrics`, or instead name the ones to
    average in `stateless_metrics`; giving both is an error. On the final update every value
    passed is shown as given.

    Args:
        target: how many steps make a complete bar, or `None` when that is not known (the
            bar then shows a count and `/Unknown`).
        width: number of characters of the bar itself. Defaults to 20.
        verbose: 0 prints nothing; 1 draws the bar (live or final-line only, see the module
            docstring); 2 prints one summary line without a bar when the bar completes.
        interval: shortest time in seconds between two redraws of a live bar. Defaults to
            0.05. Completing the bar always draws.
        stateful_metrics: names of metrics to show as given; all others are averaged.
        stateless_metrics: names of metrics to average; all others are shown as given.
        unit_name: word used in the speed figure (`25ms/step`). Defaults to `"step"`.
        file: text stream for the output. Defaults to `None`, meaning whatever `sys.stdout`
            is at the moment of each write.

    Example:

    ```python
    files = sorted(pathlib.Path("shards").glob("*.npy"))
    bar = dlc.utils.Progbar(target=len(files), unit_name="file", stateful_metrics=["rows"])
    rows = 0
    for path in files:
        rows += len(np.load(path))
        bar.add(1, values=[("rows", rows)])   # a running total, so shown as given
    # 12/12 ━━━━━━━━━━━━━━━━━━━━ 3s 250ms/file - rows: 120000.0000
    ```
    """

    def __init__(
        self,
        target: Optional[int],
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Optional[Iterable[str]] = None,
        stateless_metrics: Optional[Iterable[str]] = None,
        unit_name: str = "step",
        file: Optional[TextIO] = None,
        *,
        _clock: Optional[Callable[[], float]] = None,
    ) -> None:
        named = [m for m in (stateful_metrics, stateless_metrics) if m is not None]
        if len(named) > 1:
            raise ValueError("Progbar: provide only one of `stateful_metrics` or "
                             "`stateless_metrics`, received both")
        if target is not None and (isinstance(target, bool) or int(target) != target):
            raise ValueError(f"Progbar: argument 'target' must be an int or None, "
                             f"received {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: argument 'verbose' must be 0, 1 or 2, received {verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.unit_name = unit_name
        self.file = file
        # Exactly one of the two sets is kept; the other is None (see _record).
        if stateless_metrics is None:
            self.stateful_metrics = set(() if stateful_metrics is None else stateful_metrics)
            self.stateless_metrics = None
        else:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        self._clock = _clock if _clock is not None else time.time
        self._dynamic_display = _is_dynamic(file)
        # '\r' only returns to the start of the current screen row, so a live line that wraps
        # could not be redrawn: in a terminal, intermediate frames are clipped to the window
        # width. Notebooks do not wrap that way, and the final line is never clipped.
        self._columns: Optional[int] = None
        if self._dynamic_display and not _in_notebook():
            self._columns = shutil.get_terminal_size().columns
        # In a notebook kernel writing to stdout, the live bar is a display replaced in place.
        self._use_handle = self._dynamic_display and file is None and _in_notebook()
        self._handle: Any = None
        self._color = self._dynamic_display and not self._use_handle and "NO_COLOR" not in os.environ
        stream = sys.stdout if file is None else file
        if _can_encode(stream, "━"):
            self._glyphs = ("━", "━" if self._color else "─")
        else:
            self._glyphs = ("=", ".")
        self._values: dict = {}
        self._values_order: List[str] = []
        self._seen_so_far = 0
        self._start = self._clock()
        self._last_update = -math.inf
        self._time_after_first_step: Optional[float] = None
        self._prev_total_width = 0

    # ------------------------------------------------------------------ public API
    def update(self, current: int, values: Optional[Sequence[Tuple[str, Any]]] = None,
               finalize: Optional[bool] = None) -> None:
        """Moves the bar to `current` completed steps and redraws it if due.

        Args:
            current: total steps completed so far (not the increment).
            values: optional `(name, value)` pairs for the steps since the previous update;
                a value may be a number or an array (its mean is used). Whether a name is
                averaged or shown as given follows the constructor's metric sets.
            finalize: whether this update completes the bar. A completing update is drawn
                (unless `verbose` is 0) regardless of `interval` and ends the line. `None`
                (the default) means "`current` has reached `target`", which never holds
                while the target is unknown.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            self._record(name, value, current, finalize)
        self._seen_so_far = current

        now = self._clock()
        step_seconds = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if not finalize and now - self._last_update < self.interval:
                return
            if self._use_handle and self._draw_in_handle(current, now, step_seconds, finalize):
                pass
            elif self._dynamic_display:
                max_width = None if finalize or not self._columns else self._columns - 1
                line = self._bar_line(current, now, step_seconds, finalize, max_width)
                visible = len(_ANSI.sub("", line)) if self._color else len(line)
                pad = " " * max(0, self._prev_total_width - visible)
                self._write("\r" + line + pad + ("\n" if finalize else ""))
                self._prev_total_width = 0 if finalize else visible
            elif finalize:
                self._write(self._bar_line(current, now, step_seconds, True) + "\n")
        elif self.verbose == 2 and finalize:
            self._write(self._epoch_line(current, now, step_seconds) + "\n")
        self._last_update = now

    def _draw_in_handle(self, current: int, now: float, step_seconds: float, finalize: bool) -> bool:
        """Shows the bar in the notebook display handle; False if there is none to use."""
        line = self._bar_line(current, now, step_seconds, finalize)
        if self._handle is None:
            self._handle = _notebook_handle(line)
            if self._handle is None:
                self._use_handle = False
                return False
        else:
            self._handle.update(line)
        if finalize:
            self._handle = None
        return True

    def add(self, n: int, values: Optional[Sequence[Tuple[str, Any]]] = None) -> None:
        """Same as `update()`, but counted relative to the last position.

        Args:
            n: steps completed since the previous call.
            values: metric values, in the form `update()` takes.
        """
        self.update(self._seen_so_far + n, values)

    # ------------------------------------------------------------------ internals
    def _record(self, name: str, value: Any, current: int, finalize: bool) -> None:
        if name not in self._values:
            self._values_order.append(name)
        if self.stateful_metrics is not None:
            stateless = name not in self.stateful_metrics
        else:
            stateless = name in self.stateless_metrics
        if not isinstance(value, (int, float)):
            value = float(np.mean(value))
        if stateless and not finalize:
            weight = max(current - self._seen_so_far, 1)
            total, count = self._values.get(name, (0.0, 0))
            self._values[name] = (total + value * weight, count + weight)
        else:
            # Displayed unchanged. On the final update this also overrides any running mean:
            # the caller's closing value wins.
            self._values[name] = (value, 1)

    def _metrics_text(self) -> str:
        parts = []
        for name in self._values_order:
            total, count = self._values[name]
            parts.append(f" - {name}: {_format_value(total / max(1, count))}")
        return "".join(parts)

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._color else text

    def _bar_line(self, current: int, now: float, time_per_unit: float, finalize: bool,
                  max_width: Optional[int] = None) -> str:
        target = self.target
        if target is not None and target > 0:
            digits = int(math.log10(target)) + 1
            count = self._style(f"{current:{digits}d}/{target}", "1")
            frac = min(max(current / target, 0.0), 1.0)
            done = int(self.width * frac)
            bar = ""
            if done:
                bar += self._style(self._glyphs[0] * done, "32")
            if self.width - done:
                bar += self._style(self._glyphs[1] * (self.width - done), "37")
            line = f"{count} {bar}"
        else:
            line = self._style(f"{current:7d}/Unknown", "1")
        if target is not None and target > 0 and not finalize:
            timing = _format_eta(time_per_unit * (target - current))
        else:
            timing = f"{now - self._start:.0f}s"
        line += " " + self._style(timing, "1")
        line += " " + _format_time_per_unit(time_per_unit, self.unit_name)
        metrics = self._metrics_text()
        if max_width is not None:
            # Clip only the metric text: it is uncoloured and at the end, so cutting it can
            # never split an escape sequence.
            head = len(_ANSI.sub("", line)) if self._color else len(line)
            metrics = metrics[:max(0, max_width - head)]
        return line + metrics

    def _epoch_line(self, current: int, now: float, time_per_unit: float) -> str:
        """The summary line of `verbose=2`: count, elapsed time, speed and metrics, no bar."""
        if (self.target or 0) > 0:
            digits = int(math.log10(self.target)) + 1
            head = f"{current:{digits}d}/{self.target}"
        else:
            head = f"{current}/Unknown"
        return (f"{head} - {now - self._start:.0f}s - "
                f"{_format_time_per_unit(time_per_unit, self.unit_name)}"
                f"{self._metrics_text()}")

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Mean seconds per step. Step 1 is often slow (first-call set-up), so once its end time
        is known the mean is taken over the later steps only."""
        if not current:
            return 0.0
        first_done = self._time_after_first_step
        if current == 1:
            self._time_after_first_step = now
        if current > 1 and first_done is not None:
            return (now - first_done) / (current - 1)
        return (now - self._start) / current

    def _write(self, text: str) -> None:
        stream = sys.stdout if self.file is None else self.file
        stream.write(text)
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()
