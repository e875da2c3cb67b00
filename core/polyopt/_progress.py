"""What a single run shows while it runs: its progress, and none of the third parties' noise.

:func:`polyopt.run.run` steps an optimizer inside :func:`watch`, which

- shows progress on stderr when asked (``verbose``): a rich bar on a terminal, else a line per tenth of the
  budget, at most one a second (a log file or CI output gets ten lines, not ten thousand);
- silences import-time noise that says nothing about the run (TorchScript deprecation warnings from
  GPyTorch's dependencies, torch's CUDA probing warnings on machines without a working GPU), and
- counts GPyTorch's ``NumericalWarning`` ("added jitter to the diagonal", repeated at every model fit) instead
  of printing each: a verbose run ends with one note giving the count, a quiet one says nothing.

Warning filters the user set come first (``python -W ...``, ``PYTHONWARNINGS``, ``warnings.filterwarnings``):
``-W always`` or ``-W always::RuntimeWarning`` shows every NumericalWarning again. rich is imported only when a
bar is shown.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["Progress", "quiet_third_party", "watch"]

#: (category, message pattern) of warnings silenced for good: none of them is about the user's run.
_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (Warning, r".*(torch\.jit|TorchScript)"),  # linear_operator scripts functions on import
    (UserWarning, r".*CUDA initialization"),  # torch probing a GPU whose driver is missing or old
    (UserWarning, r".*Can't initialize NVML"),
)


def quiet_third_party() -> None:
    """Silence the import-time noise listed in ``_NOISE``. The filters go last, so any the user set (``-W``,
    ``PYTHONWARNINGS``, ``warnings.filterwarnings``) still decide first; calling again adds nothing."""
    for category, message in _NOISE:
        warnings.filterwarnings("ignore", message=message, category=category, append=True)


def _user_sees_numerical_warnings() -> bool:
    """Whether a ``-W``/``PYTHONWARNINGS`` option covers RuntimeWarning (``always``, ``default::RuntimeWarning``,
    ...): then each NumericalWarning is shown as the user asked, not counted."""
    covering = ("", "Warning", "RuntimeWarning", "NumericalWarning")
    return any(
        (option.split(":") + [""] * 3)[2].strip().rsplit(".", 1)[-1] in covering
        for option in sys.warnoptions
    )


class Progress:
    """Progress of one run against its budget, shown on ``stream`` (stderr by default).

    Args:
        opt: the optimizer being run.
        budget: its :class:`polyopt.Budget`.
        bar: a rich bar (a terminal) rather than a line per tenth of the budget.
        stream: where lines go (default: stderr).
    """

    def __init__(self, opt: Any, budget: Any, *, bar: bool, stream: TextIO | None = None) -> None:
        self.opt = opt
        self.budget = budget
        self.stream = stream or sys.stderr
        self.title = f"{opt.name or type(opt).__name__} on {_problem_name(opt.problem)}"
        self._next_tenth = 1
        self._last_update = 0.0
        self._last_line = time.monotonic()
        self._lines = 0
        self._bar: Any = None
        self._task: Any = None
        if bar:
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = rich_progress = _rich_progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
        )
        self._task = rich_progress.add_task(self.title, total=1.0, detail=self.detail())
        rich_progress.start()

    def fraction(self) -> float:
        """How much of the budget is spent: the largest share among its limits, in ``[0, 1]``."""
        opt, b = self.opt, self.budget
        shares = [
            opt.n_evaluations / b.evaluations if b.evaluations else 0.0,
            opt.n_steps / b.steps if b.steps else 0.0,
            opt.n_env_steps / b.env_steps if b.env_steps else 0.0,
            opt.elapsed / b.seconds if b.seconds else 0.0,  # a resumed run's earlier seconds count
        ]
        return min(1.0, max(shares))

    def detail(self) -> str:
        """``"1,200/5,000 evaluations, step 12"`` (the counts the budget limits, and the step)."""
        opt, b = self.opt, self.budget
        parts = []
        for name, done, limit in (
            ("evaluations", opt.n_evaluations, b.evaluations),
            ("environment steps", opt.n_env_steps, b.env_steps),
        ):
            if limit or (name == "evaluations" and done):
                parts.append(f"{done:,}/{limit:,} {name}" if limit else f"{done:,} {name}")
        parts.append(f"step {opt.n_steps:,}" + (f"/{b.steps:,}" if b.steps else ""))
        return ", ".join(parts)

    def __call__(self, _opt: Any = None, _metrics: Any = None) -> None:
        """After each step: update the bar (at most 10 times a second) or print the next tenth's line
        (at most one a second)."""
        fraction = self.fraction()
        if self._bar is not None:
            now = time.monotonic()
            if now - self._last_update >= 0.1:
                self._last_update = now
                self._bar.update(self._task, completed=fraction, detail=self.detail())
            return
        if fraction * 10 >= self._next_tenth:
            self._next_tenth = int(fraction * 10) + 1
            if time.monotonic() - self._last_line >= 1.0:  # a 0.5 s run prints nothing
                self._line(f"{fraction:.0%}")

    def _line(self, status: str) -> None:
        print(
            f"{self.title}: {status} ({self.detail()}, {self.opt.elapsed:.1f} s)",
            file=self.stream,
            flush=True,
        )
        self._last_line = time.monotonic()
        self._lines += 1

    def close(self, finished: bool) -> None:
        """Stop the bar (showing the final state); after progress lines, print the last one."""
        if self._bar is not None:
            self._bar.update(self._task, completed=self.fraction(), detail=self.detail())
            self._bar.stop()
        elif self._lines:
            self._line(f"{self.fraction():.0%}" if finished else "stopped")


def _rich_progress(*columns: Any, console: Any) -> Any:
    from rich.progress import Progress as RichProgress

    return RichProgress(*columns, console=console, transient=False)


def _problem_name(problem: Any) -> str:
    return getattr(problem, "name", "") or type(problem).__name__


def _shows_bar(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (or a notebook), where a live bar belongs."""
    from rich.console import Console

    console = Console(file=stream)
    return console.is_terminal or console.is_jupyter


class _Numerical:
    """Counts GPyTorch/BoTorch ``NumericalWarning`` s instead of printing them."""

    def __init__(self) -> None:
        self.count = 0
        self.first = ""

    def __call__(self, message: Warning | str) -> None:
        self.count += 1
        self.first = self.first or str(message)

    def note(self) -> str:
        return (
            f"note: {self.count} NumericalWarning(s) from GPyTorch/BoTorch during the run, e.g. "
            f"{self.first!r}: jitter keeps a covariance matrix positive definite and is usually "
            "harmless (`python -W always::RuntimeWarning` shows each)"
        )


@contextlib.contextmanager
def watch(
    opt: Any, budget: Any, verbose: bool | None = False, callbacks: list[Any] | None = None
) -> Iterator[Progress | None]:
    """The context :func:`polyopt.run.run` steps in: quiet third parties, count numerical warnings, and (with
    ``verbose``) show progress, by appending a :class:`Progress` to ``callbacks``.

    Args:
        opt: the optimizer about to be stepped.
        budget: its budget.
        verbose: True: progress on stderr (a bar on a terminal, lines otherwise); None: a bar only on a
            terminal or in a notebook; False: nothing.
        callbacks: the run's callbacks, called after every step; the progress joins them.
    """
    quiet_third_party()
    show = _shows_bar(sys.stderr) if verbose is None else verbose
    progress = Progress(opt, budget, bar=_shows_bar(sys.stderr)) if show else None
    if progress is not None and callbacks is not None:
        callbacks.append(progress)
    numerical = _Numerical()
    finished = False
    with warnings.catch_warnings():
        if not _user_sees_numerical_warnings():
            _count_numerical_warnings(numerical)
        try:
            yield progress
            finished = True
        finally:
            if progress is not None:
                progress.close(finished)
    if progress is not None and numerical.count:
        print(numerical.note(), file=sys.stderr, flush=True)


def _count_numerical_warnings(numerical: _Numerical) -> None:
    """Inside ``catch_warnings``: route every NumericalWarning to ``numerical``; others as before."""
    module = sys.modules.get("linear_operator.utils.warnings")
    if module is not None:  # imported by the optimizer already: count every one, not once per place
        warnings.filterwarnings("always", category=module.NumericalWarning)
    shown = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if category.__name__ == "NumericalWarning":
            numerical(message)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
