"""The report's charts, drawn with matplotlib (Agg and SVG backends, no display, no network):
SVG for the page, PNG for the mail. Each has a title, axis labels with units and a text
alternative that says what the picture shows.

matplotlib's object API only (``Figure``, no ``pyplot``): no global state, nothing kept
between calls. Text stays text in the SVG (``svg.fonttype = none``): the page is searchable
and uses the reader's own sans-serif font, never a downloaded one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailer.core.reporting.figures import AGES, RESOLUTION_HOURS, Attainment
from mailer.core.reporting.report import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Okabe-Ito: told apart by people with any colour vision, and in grey when printed.
BLUE, GREEN, ORANGE, VERMILION, SKY, YELLOW = (
    "#0072B2", "#009E73", "#E69F00", "#D55E00", "#56B4E9", "#F0E442",
)  # fmt: skip
AGE_COLOURS = (SKY, BLUE, GREEN, ORANGE, VERMILION)
SIZE = (6.4, 3.2)  # inches
PNG_DPI = 110
STYLE: Any = {  # rc keys are typed as literals; these are checked by matplotlib
    "svg.fonttype": "none",
    "svg.hashsalt": "mailer",  # the same report draws the same SVG (per chart: see draw)
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
}


@dataclass(frozen=True)
class Chart:
    key: str  # file and Content-ID name: "volume", "sla", ...
    title: str
    alt: str  # the text alternative
    svg: str = ""
    png: bytes = b""


def _volume(ax: Axes, report: Report) -> str:
    weeks = [w.name for w in report.weeks]
    x = range(len(weeks))
    ax.bar([i - 0.2 for i in x], [w.opened for w in report.weeks], 0.4, label="opened", color=BLUE)
    ax.bar(
        [i + 0.2 for i in x], [w.resolved for w in report.weeks], 0.4, label="resolved", color=GREEN
    )
    _weeks_axis(ax, weeks)
    ax.set_ylabel("requests")
    ax.legend(frameon=False)
    pairs = ", ".join(f"{w.name}: {w.opened} opened, {w.resolved} resolved" for w in report.weeks)
    return f"Requests opened and resolved per week. {pairs}."


def _sla(ax: Axes, report: Report) -> str:
    weeks = [w.name for w in report.weeks]
    said = []
    for target, label, colour in (
        ("first_response", "first response", BLUE),
        ("resolution", "resolution", ORANGE),
    ):
        shares = [_percent(w.sla[target]) for w in report.weeks]
        ax.plot(range(len(weeks)), shares, marker="o", label=label, color=colour)
        said.append(f"{label}: " + ", ".join(_said(s) for s in shares))
    _weeks_axis(ax, weeks)
    ax.set_ylim(0, 105)
    ax.set_ylabel("targets met (%)")
    ax.legend(frameon=False, loc="lower left")
    return "Share of SLA targets met per week. " + "; ".join(said) + "."


def _resolution(ax: Axes, report: Report) -> str:
    labels = [label for label, _ in RESOLUTION_HOURS]
    counts = report.total.resolution_hours
    ax.bar(labels, counts, color=GREEN)
    ax.set_xlabel("time to resolution (working hours)")
    ax.set_ylabel("resolutions")
    pairs = ", ".join(f"{label}: {n}" for label, n in zip(labels, counts, strict=True))
    return f"How long resolutions took, in working hours. {pairs}."


def _satisfaction(ax: Axes, report: Report) -> str:
    counts = report.total.ratings.distribution
    ax.bar([f"{n}★" for n in range(1, 6)], counts, color=[VERMILION, ORANGE, YELLOW, SKY, GREEN])
    ax.set_xlabel("rating (1 to 5 stars)")
    ax.set_ylabel("ratings")
    pairs = ", ".join(f"{n} stars: {c}" for n, c in enumerate(counts, 1))
    return f"Ratings given by requesters. {pairs}."


def _backlog(ax: Axes, report: Report) -> str:
    ends = [b.week for b in report.total.backlog]
    bottom = [0] * len(ends)
    for i, (label, _) in enumerate(AGES):
        heights = [b.ages[i] for b in report.total.backlog]
        ax.bar(ends, heights, bottom=bottom, label=label, color=AGE_COLOURS[i])
        bottom = [a + h for a, h in zip(bottom, heights, strict=True)]
    _weeks_axis(ax, ends, positions=False)
    ax.set_ylabel("open requests")
    ax.legend(frameon=False, fontsize=7, title="age", title_fontsize=7, loc="upper left")
    pairs = ", ".join(f"{b.week}: {b.open} open" for b in report.total.backlog)
    return f"Open requests at the end of each week, by age since arrival. {pairs}."


Drawer = Callable[["Axes", Report], str]
CHARTS: tuple[tuple[str, str, Drawer], ...] = (
    ("volume", "Weekly volume: opened vs resolved", _volume),
    ("sla", "SLA attainment per week", _sla),
    ("resolution", "Time to resolution", _resolution),
    ("satisfaction", "Satisfaction", _satisfaction),
    ("backlog", "Backlog at the end of each week, by age", _backlog),
)
MAIL_CHARTS = ("volume", "sla", "backlog")  # the main ones, inline in the weekly mail


def draw(
    report: Report, *, svg: bool = True, png: bool = False, only: tuple[str, ...] = ()
) -> list[Chart]:
    """Every chart (or ``only`` those), as SVG text and/or PNG bytes."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    found = []
    for key, title, drawer in CHARTS:
        if only and key not in only:
            continue
        with rc_context({**STYLE, "svg.hashsalt": f"mailer-{key}"}):  # ids unique per chart
            figure = Figure(figsize=SIZE, layout="constrained")
            ax = figure.add_subplot()
            alt = drawer(ax, report)
            ax.set_title(title)
            found.append(
                Chart(
                    key,
                    title,
                    alt,
                    svg=_svg(figure, key, title, alt) if svg else "",
                    png=_save(figure, "png", dpi=PNG_DPI) if png else b"",
                )
            )
    return found


def _weeks_axis(ax: Axes, weeks: list[str], *, positions: bool = True) -> None:
    if positions:
        ax.set_xticks(range(len(weeks)), weeks)
    ax.set_xlabel("week (ISO 8601)")
    ax.tick_params(axis="x", labelrotation=30 if len(weeks) > 6 else 0)


def _percent(a: Attainment) -> float:
    share = a.share
    return float("nan") if share is None else share * 100


def _said(value: float) -> str:
    return "nothing decided" if value != value else f"{value:.0f}%"


def _save(figure: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata=_metadata(fmt), **options)
    return buffer.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    return {"Date": None} if fmt == "svg" else {"Software": "mailer"}


def _svg(figure: Any, key: str, title: str, alt: str) -> str:
    """Scalable (no fixed size: the page's CSS sizes it), titled and described."""
    text = _save(figure, "svg").decode("utf-8")
    text = text[text.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    head_end = text.index(">") + 1
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    labels = f'role="img" aria-labelledby="{key}-title {key}-desc"'
    head = head.replace("<svg", f"<svg {labels}", 1)
    described = (
        f'<title id="{key}-title">{_escape(title)}</title>'
        f'<desc id="{key}-desc">{_escape(alt)}</desc>'
    )
    return head + described + text[head_end:]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
