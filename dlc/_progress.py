"""The progress bar `fit`, `evaluate` and `predict` print (exported as `dlc.utils.Progbar`).

The display follows Keras 3:

    469/469 ━━━━━━━━━━━━━━━━━━━━ 12s 25ms/step - accuracy: 0.9812 - loss: 0.0612

Where the output goes decides how it is drawn:
- a terminal or a Jupyter notebook ("dynamic" display): one live line, redrawn in place with a
  carriage return at most every `interval` seconds, so even a 10,000-step epoch writes a bounded
  amount of text;
- anything else (a pipe, a log file, CI): only the final line of each bar, no carriage returns.
The environment variable `DLC_PROGRESS` set to `dynamic` or `static` overrides the detection;
`NO_COLOR` (any value) turns off the ANSI colours of the dynamic display.
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
    """True inside a Jupyter (ipykernel) or Colab kernel, whose output stream handles '\\r'."""
    if "ipykernel" not in sys.modules and "google.colab" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # a broken IPython install must not break training output
        return False
    return type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


def _is_dynamic(file: Optional[TextIO]) -> bool:
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
    except (ValueError, OSError):  # closed or detached stream
        return False


def _can_encode(stream: Any, text: str) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # io.StringIO and friends hold str
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _format_value(value: float) -> str:
    """Formats a metric as Keras does: 4 decimals, or scientific notation when tiny."""
    if abs(value) > 1e-3:
        return f"{value:.4f}"
    return f"{value:.4e}"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Displays a progress bar.

    If neither `stateful_metrics` nor `stateless_metrics` is given, every metric is assumed to
    be stateless: the bar shows its average over the steps seen so far, weighted by step
    count. Metrics named in `stateful_metrics` are shown as given (use this for values that are
    already running means, as `fit` passes them).

    Args:
        target: Total number of steps expected, None if unknown.
        width: Progress bar width on screen.
        verbose: Verbosity mode, 0 (silent), 1 (verbose), 2 (semi-verbose: one line at the
            end).
        interval: Minimum visual progress update interval (in seconds).
        stateful_metrics: Iterable of string names of metrics that should *not* be averaged
            over time. Metrics in this list will be displayed as-is. If provided, do not
            provide `stateless_metrics`.
        stateless_metrics: Iterable of string names of metrics that *should* be averaged over
            time; all others are displayed as-is. If provided, do not provide
            `stateful_metrics`.
        unit_name: Display name for step counts (usually "step" or "sample").
        file: Text stream to write to. Defaults to `sys.stdout` (looked up at each write).

    Example:

    ```python
    bar = dlc.utils.Progbar(target=100)
    for step in range(100):
        loss = train_one_batch()
        bar.update(step + 1, values=[("loss", loss)])
    # 100/100 ━━━━━━━━━━━━━━━━━━━━ 2s 21ms/step - loss: 0.3056
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
        if stateful_metrics is not None and stateless_metrics is not None:
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
        if stateful_metrics is not None:
            self.stateful_metrics = set(stateful_metrics)
            self.stateless_metrics = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None
        self._clock = _clock if _clock is not None else time.time
        self._dynamic_display = _is_dynamic(file)
        # In a terminal, a live line wider than the window would wrap and '\r' could no longer
        # redraw it: live frames are cut to the window width (the final line is kept whole).
        self._columns: Optional[int] = None
        if self._dynamic_display and not _in_notebook():
            self._columns = shutil.get_terminal_size().columns
        self._color = self._dynamic_display and "NO_COLOR" not in os.environ
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
        """Updates the progress bar.

        Args:
            current: Index of current step (the number of steps done).
            values: List of tuples: `(name, value_for_last_step)`. If `name` is in
                `stateful_metrics`, `value_for_last_step` will be displayed as-is. Else, an
                average of the metric over time will be displayed.
            finalize: Whether this is the last update for the progress bar. If `None`,
                defaults to `current >= self.target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            self._record(name, value, current, finalize)
        self._seen_so_far = current

        now = self._clock()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if not finalize and now - self._last_update < self.interval:
                return
            if self._dynamic_display:
                max_width = None if finalize or not self._columns else self._columns - 1
                line = self._bar_line(current, now, time_per_unit, finalize, max_width)
                visible = len(_ANSI.sub("", line)) if self._color else len(line)
                pad = " " * max(0, self._prev_total_width - visible)
                self._write("\r" + line + pad + ("\n" if finalize else ""))
                self._prev_total_width = 0 if finalize else visible
            elif finalize:
                self._write(self._bar_line(current, now, time_per_unit, True) + "\n")
        elif self.verbose == 2 and finalize:
            self._write(self._epoch_line(current, now, time_per_unit) + "\n")
        self._last_update = now

    def add(self, n: int, values: Optional[Sequence[Tuple[str, Any]]] = None) -> None:
        """Advances the bar by `n` steps.

        Args:
            n: Number of steps done since the last update.
            values: As in `update()`.
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
            # Shown as given (a final value from the caller replaces the running average).
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
            # The metrics come last and carry no colour codes, so they can be cut safely.
            head = len(_ANSI.sub("", line)) if self._color else len(line)
            metrics = metrics[:max(0, max_width - head)]
        return line + metrics

    def _epoch_line(self, current: int, now: float, time_per_unit: float) -> str:
        if self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            head = f"{current:{digits}d}/{self.target}"
        else:
            head = f"{current}/Unknown"
        return (f"{head} - {now - self._start:.0f}s - "
                f"{_format_time_per_unit(time_per_unit, self.unit_name)}"
                f"{self._metrics_text()}")

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the first step (it includes warm-up) when possible."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    def _write(self, text: str) -> None:
        stream = sys.stdout if self.file is None else self.file
        stream.write(text)
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()
