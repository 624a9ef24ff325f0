"""What a check type may export on ``/metrics``: the declaration, its rules, its samples.

A check type lists :class:`CheckMetric` declarations in ``CheckType.metrics``.
The plugin manager refuses a plugin whose declarations break the rules below
(naming the plugin), and the collector (``metrics.py``) turns each monitor's
last reported details into samples with :func:`samples`. Label values can only
be words the declaration lists, so ``/metrics`` never carries a URL or a host.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class MetricTime:
    """When a reported value was observed and when it is read (unix seconds)."""

    observed_at: float
    now: float


MetricValue = float | Mapping[str | tuple[str, ...], float] | None
"""A number (a metric without labels), or label value(s) -> number; ``None``: no sample."""


@dataclass(frozen=True, slots=True)
class CheckMetric:
    """A gauge on ``/metrics``, read from one key of a check type's results' ``details``.

    Each monitor gets its own series: the ``monitor`` label is always first and set
    by uplight. The value is ``details[key]`` as reported, or what ``read(value,
    time)`` makes of it at scrape time (so a value can age, e.g. days until an
    expiry). ``read`` must be quick and pure; it is given the raw reported value,
    which may be of any type.

    ``labels`` maps each further label name to the only words it may take: a
    sample with any other label value is dropped, as is any value that is not a
    finite number. Label values can therefore never carry a URL or a host name.

    ``keep_last_known``: a result without ``key`` (or with ``null``) leaves the
    last value seen in place instead of removing the series (a certificate's
    expiry is still known while its host is unreachable). ``all_check_types``:
    read ``key`` in every monitor's results, not only this check type's, for a
    key several check types report with the same meaning.
    """

    name: str  # uplight_<something>: lower case, digits and "_"
    help: str
    key: str
    read: Callable[[Any, MetricTime], MetricValue] | None = None
    labels: Mapping[str, Sequence[str]] = field(default_factory=dict, hash=False)
    keep_last_known: bool = False
    all_check_types: bool = False
    kind: Literal["gauge"] = "gauge"


# The rules of a declaration (docs/plugins.md, "Declaring metrics").
_NAME = re.compile(r"uplight_[a-z][a-z0-9_]*")
_LABEL_NAME = re.compile(r"[a-z][a-z0-9_]*")
# No dots, slashes or colons: a declared word cannot be a host name or a URL.
_LABEL_WORD = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Suffixes that make a name read as a counter, a histogram bucket or an info metric.
_RESERVED_SUFFIXES = ("_total", "_created", "_bucket", "_info")


def samples(metric: CheckMetric, value: Any) -> list[tuple[tuple[str, ...], float]]:
    """Only finite numbers, and only label values the metric declared, in declared order."""
    if not metric.labels:
        number = _number(value)
        return [] if number is None else [((), number)]
    if not isinstance(value, Mapping):
        return []
    words = [tuple(allowed) for allowed in metric.labels.values()]
    found: dict[tuple[int, ...], float] = {}  # by the label words' positions
    for key, raw in value.items():
        labels = (key,) if isinstance(key, str) else key
        if not isinstance(labels, tuple) or len(labels) != len(words):
            continue
        if not all(isinstance(v, str) and v in w for v, w in zip(labels, words, strict=True)):
            continue
        number = _number(raw)
        if number is not None:
            found.setdefault(tuple(w.index(v) for v, w in zip(labels, words, strict=True)), number)
    return [
        (tuple(w[i] for i, w in zip(rank, words, strict=True)), found[rank])
        for rank in sorted(found)
    ]


def declaration_problem(metrics: object, reserved: Collection[str]) -> str | None:
    """Why a check type's ``metrics`` cannot be exported, or ``None`` when they can.

    ``reserved``: uplight's own metric names. The plugin manager refuses the
    plugin with this reason (and checks names against other check types itself).
    """
    if isinstance(metrics, str | bytes) or not isinstance(metrics, Sequence):
        return "metrics must be a sequence of uplight.CheckMetric"
    names: set[str] = set()
    for metric in metrics:
        if not isinstance(metric, CheckMetric):
            return f"metrics holds {metric!r}, which is not an uplight.CheckMetric"
        problem = _metric_problem(metric, reserved)
        if problem is None and metric.name in names:
            problem = "is declared twice"
        if problem is not None:
            return f"metric {metric.name!r} {problem}"
        names.add(metric.name)
    return None


def _metric_problem(metric: CheckMetric, reserved: Collection[str]) -> str | None:
    name = metric.name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return "is not a valid name: use uplight_ then lower case letters, digits and _"
    if name in reserved:
        return "clashes with one of uplight's own metrics"
    if name.endswith(_RESERVED_SUFFIXES):
        return f"is a gauge: its name must not end in {', '.join(_RESERVED_SUFFIXES)}"
    if metric.kind != "gauge":
        return f"has kind {metric.kind!r}: only 'gauge' is supported"
    if not isinstance(metric.help, str) or not metric.help.strip():
        return "needs a help text"
    if not isinstance(metric.key, str) or not metric.key:
        return "needs the details key it reads"
    if metric.read is not None and not callable(metric.read):
        return "has a read that is not callable"
    if not isinstance(metric.labels, Mapping):
        return "labels must map each label name to the words it may take"
    for label, words in metric.labels.items():
        if label == "monitor":
            return "has label 'monitor', which uplight sets itself"
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
            return f"has label {label!r}: use lower case letters, digits and _"
        listed = () if isinstance(words, str) or not isinstance(words, Iterable) else tuple(words)
        bad = [w for w in listed if not (isinstance(w, str) and _LABEL_WORD.fullmatch(w))]
        if not listed or bad:
            return (
                f"label {label!r} must list the words it may take (letters, digits, _ and -,"
                f" at most 64 characters each){f', not {bad[0]!r}' if bad else ''}"
            )
    return None


def _number(value: Any) -> float | None:
    """A finite float from a plugin's value; anything else (bools included) is no sample."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
