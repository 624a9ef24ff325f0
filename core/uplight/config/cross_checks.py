"""Config validation beyond one model: plugin-typed tables, references, files,
and the wording of every error (TOML paths, "did you mean")."""

from __future__ import annotations

import difflib
import sys
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..paths import CONFIG_DIR
from .models import ConfigIssue, MaintenanceConfig, MetricsConfig, PageConfig, SchedulerConfig


def check_token_file(
    metrics: MetricsConfig | None, config_dir: Path | None, issues: list[ConfigIssue]
) -> None:
    """Serving /metrics without the protection asked for would be worse than not starting."""
    path = metrics.bearer_token_file if metrics else None
    if path is None:
        return
    if not path.is_absolute() and config_dir is not None:
        path = config_dir / path
    where = "metrics.bearer_token_file"
    try:
        if not path.read_text(encoding="utf-8").strip():
            issues.append(ConfigIssue(where, f"{path} is empty"))
    except OSError as exc:
        issues.append(ConfigIssue(where, f"cannot read {path}: {exc.strerror}"))
    except UnicodeDecodeError:
        issues.append(ConfigIssue(where, f"{path} is not UTF-8 text"))


def check_page_references(
    pages: tuple[PageConfig, ...],
    raw_monitors: list[Any],
    issues: list[ConfigIssue],
    indexes: list[int] | None = None,
) -> None:
    """``indexes``: where each page stands in the file, when invalid pages were left out."""
    at = indexes if indexes is not None else list(range(len(pages)))
    first_index = first_indexes(
        "monitors",
        (raw.get("id") if isinstance(raw, dict) else None for raw in raw_monitors),
        issues,
    )
    slugs: dict[str, int] = {}
    hostnames: dict[str, int] = {}
    defaults = [at[i] for i, p in enumerate(pages) if p.default]
    for index in defaults[1:]:
        issues.append(
            ConfigIssue(f"pages[{index}].default", f"pages[{defaults[0]}] is already the default")
        )
    for position, page in enumerate(pages):
        index = at[position]
        if page.slug in slugs:
            issues.append(
                ConfigIssue(
                    f"pages[{index}].slug",
                    f"duplicate slug {page.slug!r} (first used by pages[{slugs[page.slug]}])",
                )
            )
        slugs.setdefault(page.slug, index)
        if page.hostname:
            host = page.hostname.lower()
            if host in hostnames:
                issues.append(
                    ConfigIssue(
                        f"pages[{index}].hostname",
                        f"hostname {host!r} is already used by pages[{hostnames[host]}]",
                    )
                )
            hostnames.setdefault(host, index)
        seen: set[str] = set()
        for c_index, component in enumerate(page.components):
            path = f"pages[{index}].components[{c_index}].monitor"
            if component.monitor not in first_index:
                hint = did_you_mean(component.monitor, first_index)
                issues.append(ConfigIssue(path, f"no monitor has id {component.monitor!r}{hint}"))
            elif component.monitor in seen:
                issues.append(
                    ConfigIssue(path, f"monitor {component.monitor!r} is already on this page")
                )
            seen.add(component.monitor)


def check_maintenance_references(
    entries: tuple[MaintenanceConfig, ...], raw_monitors: list[Any], issues: list[ConfigIssue]
) -> None:
    monitor_ids = {raw.get("id") for raw in raw_monitors if isinstance(raw, dict)}
    known = [m for m in monitor_ids if isinstance(m, str)]
    first_indexes("maintenance", (entry.id for entry in entries), issues)
    for index, entry in enumerate(entries):
        seen: set[str] = set()
        for c_index, monitor_id in enumerate(entry.components):
            path = f"maintenance[{index}].components[{c_index}]"
            if monitor_id not in monitor_ids:
                hint = did_you_mean(monitor_id, known)
                issues.append(ConfigIssue(path, f"no monitor has id {monitor_id!r}{hint}"))
            elif monitor_id in seen:
                issues.append(ConfigIssue(path, f"monitor {monitor_id!r} is already listed"))
            seen.add(monitor_id)


def validate_typed_tables(
    section: str,
    raw_tables: Any,
    common_model: type[BaseModel],
    common_keys: frozenset[str],
    types: Mapping[str, Any],
    kind: str,
    issues: list[ConfigIssue],
    config_dir: Path | None = None,
) -> list[Any]:
    """``[[monitors]]`` and ``[[notifiers]]``: the common keys by ``common_model``, every
    other key by the plugin type's own ``Options`` (its errors under the same TOML path).
    Returns the valid tables with their validated ``options`` attached."""
    if not isinstance(raw_tables, list):
        return []  # the top-level model has already reported the wrong type
    found = []
    context = {CONFIG_DIR: config_dir} if config_dir is not None else None
    fields_sets: dict[frozenset[str], set[str]] = {}
    for index, raw in enumerate(raw_tables):
        where: tuple[str | int, ...] = (section, index)
        if not isinstance(raw, dict):
            continue
        common = {k: v for k, v in raw.items() if k in common_keys}
        specific = {k: v for k, v in raw.items() if k not in common_keys}
        table = None
        try:
            table = common_model.model_validate(common)
        except ValidationError as exc:
            issues.extend(issues_from(exc, where, common_model))
        type_name = raw.get("type")
        plugin_type = types.get(type_name) if isinstance(type_name, str) else None
        if isinstance(type_name, str) and plugin_type is None:
            available = ", ".join(sorted(types)) or "none"
            hint = did_you_mean(type_name, types)
            issues.append(
                ConfigIssue(
                    toml_path((*where, "type")),
                    f"unknown {kind} type {type_name!r}{hint} (available: {available})",
                )
            )
            continue
        if plugin_type is None:
            continue
        options_model: type[BaseModel] = plugin_type.Options
        try:
            options = options_model.model_validate(specific, context=context)
        except ValidationError as exc:
            # The table's keys are the common ones and the type's own.
            issues.extend(issues_from(exc, where, options_model, also=common_keys))
            continue
        if table is not None:
            table = table.model_copy(update={"options": options})
            _share_fields_set(table, fields_sets)
            _share_fields_set(options, fields_sets)
            if isinstance(table.__dict__.get("type"), str):
                table.__dict__["type"] = sys.intern(table.__dict__["type"])
            found.append(table)
    return found


def _share_fields_set(model: Any, shared: dict[frozenset[str], set[str]]) -> None:
    """One ``model_fields_set`` object for every table that set the same keys (about
    600 bytes a monitor at 10,000). The models are frozen and nothing changes the set
    in place (``model_copy`` copies it first)."""
    if isinstance(model, BaseModel):
        own = model.__pydantic_fields_set__
        object.__setattr__(model, "__pydantic_fields_set__", shared.setdefault(frozenset(own), own))


def check_ping_tokens(
    monitors: Iterable[Any],
    raw_monitors: Any,
    check_types: Mapping[str, Any],
    issues: list[ConfigIssue],
) -> None:
    """Two monitors that receive pings with one token: a ping could not say whose it is.
    The messages name the monitors, never the token (a secret)."""
    index_of: dict[str, int] = {}
    for index, raw in enumerate(raw_monitors if isinstance(raw_monitors, list) else []):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            index_of.setdefault(raw["id"], index)
    owners: dict[str, str] = {}
    for monitor in monitors:
        check_type = check_types.get(monitor.type)
        if not getattr(check_type, "accepts_pings", False):
            continue
        try:
            token = check_type.ping_token(monitor.options)
        except Exception:
            continue  # no usable token: start-up names the monitor
        if not isinstance(token, str):
            continue
        first = owners.setdefault(token, monitor.id)
        if first != monitor.id:
            issues.append(
                ConfigIssue(
                    f"monitors[{index_of.get(monitor.id, '?')}]",
                    f"has the same ping token as monitors[{index_of.get(first, '?')}]"
                    f" ({first!r}): give each monitor its own",
                )
            )


def check_monitor_references(
    monitors: Iterable[Any],
    raw_monitors: list[Any],
    check_types: Mapping[str, Any],
    issues: list[ConfigIssue],
) -> None:
    """Monitors that name others (``CheckType.references``: a group's members): each id
    must be a monitor's, not its own, and no chain of them may come back to where it
    started (a group of groups in a cycle). Errors are at the option's TOML path."""
    index_of = _monitor_indexes(raw_monitors)
    # monitor id -> [(referenced id, TOML path of the reference)]
    edges: dict[str, list[tuple[str, str]]] = {}
    for monitor in monitors:
        check_type = check_types.get(monitor.type)
        if check_type is None:
            continue
        where = f"monitors[{index_of.get(monitor.id, '?')}]"
        try:
            named = check_type.references(monitor.options)
            pairs = [(key, list(ids)) for key, ids in named.items()]
        except Exception as exc:
            issues.append(
                ConfigIssue(
                    where, f"check type {monitor.type!r} failed to list its references: {exc}"
                )
            )
            continue
        for key, ids in pairs:
            for position, other in enumerate(ids):
                path = f"{where}.{key}[{position}]"
                if other == monitor.id:
                    issues.append(ConfigIssue(path, f"{other!r} is this monitor itself"))
                elif other not in index_of:
                    hint = did_you_mean(other, index_of)
                    issues.append(ConfigIssue(path, f"no monitor has id {other!r}{hint}"))
                else:
                    edges.setdefault(monitor.id, []).append((other, path))
    for path, cycle in _reference_cycles(edges):
        chain = " -> ".join(repr(m) for m in cycle)
        issues.append(ConfigIssue(path, f"{chain} is a cycle: a monitor cannot depend on itself"))


def _reference_cycles(
    edges: Mapping[str, list[tuple[str, str]]],
) -> list[tuple[str, list[str]]]:
    """Each cycle once, reported at the reference that closes it (depth-first, in the
    file's order): its path and the monitors along it, the first repeated at the end."""
    done: set[str] = set()
    found: list[tuple[str, list[str]]] = []
    for start in edges:
        if start in done:
            continue
        trail: list[str] = [start]
        on_trail = {start}
        stack = [iter(edges.get(start, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                finished = trail.pop()
                on_trail.discard(finished)
                done.add(finished)
                continue
            other, path = step
            if other in on_trail:
                found.append((path, [*trail[trail.index(other) :], other]))
            elif other not in done:
                trail.append(other)
                on_trail.add(other)
                stack.append(iter(edges.get(other, ())))
    return found


def first_indexes(section: str, ids: Iterable[Any], issues: list[ConfigIssue]) -> dict[str, int]:
    """Where each id is first declared; a repeated id is reported at its second place."""
    first: dict[str, int] = {}
    for index, value in enumerate(ids):
        if not isinstance(value, str):
            continue
        if value in first:
            issues.append(
                ConfigIssue(
                    f"{section}[{index}].id",
                    f"duplicate id {value!r} (first used by {section}[{first[value]}])",
                )
            )
        else:
            first[value] = index
    return first


def check_notify_references(
    raw_notifiers: Any, raw_monitors: Any, raw_defaults: Any, issues: list[ConfigIssue]
) -> None:
    """Unique channel ids; every ``notify`` entry names a declared channel (enabled or not)."""
    tables = raw_notifiers if isinstance(raw_notifiers, list) else []
    first_index = first_indexes(
        "notifiers", (raw.get("id") if isinstance(raw, dict) else None for raw in tables), issues
    )
    lists: list[tuple[str, Any]] = []
    if isinstance(raw_defaults, dict):
        lists.append(("defaults.notify", raw_defaults.get("notify")))
    for index, raw in enumerate(raw_monitors if isinstance(raw_monitors, list) else []):
        if isinstance(raw, dict):
            lists.append((f"monitors[{index}].notify", raw.get("notify")))
    for where, ids in lists:
        if not isinstance(ids, list):
            continue  # absent, or a wrong type the models report
        seen: set[str] = set()
        for position, notifier_id in enumerate(ids):
            if not isinstance(notifier_id, str):
                continue
            path = f"{where}[{position}]"
            if notifier_id not in first_index:
                hint = did_you_mean(notifier_id, first_index)
                issues.append(ConfigIssue(path, f"no notifier has id {notifier_id!r}{hint}"))
            elif notifier_id in seen:
                issues.append(ConfigIssue(path, f"notifier {notifier_id!r} is already listed"))
            seen.add(notifier_id)


def issues_from(
    exc: ValidationError,
    prefix: tuple[str | int, ...],
    model: type[BaseModel],
    also: Iterable[str] = (),
) -> list[ConfigIssue]:
    """``exc`` from validating ``model`` at ``prefix``; ``also``: more keys of its table.

    An unknown key is matched only against the keys of the table it is in: "listn"
    in ``[storage]`` is no typo of ``[server]``'s ``listen``.
    """
    found = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *error["loc"])
        if error["type"] == "extra_forbidden":
            key = str(loc[-1])
            table = _keys_at(model, error["loc"][:-1])
            if len(error["loc"]) == 1:
                table |= set(also)
            message = f"unknown key {key!r}{did_you_mean(key, table)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] in _TOML_WORDING:
            message = _TOML_WORDING[error["type"]]
        else:
            message = error["msg"].removeprefix("Value error, ")
        found.append(ConfigIssue(toml_path(loc), message))
    return found


def _keys_at(model: type[BaseModel], loc: Iterable[str | int]) -> set[str]:
    """The keys of the table at ``loc`` inside ``model``; none when it cannot be told."""
    annotation: Any = model
    for part in loc:
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue  # pydantic's validator names, not a place in the file
        found = _model_in(annotation)
        if found is not None and isinstance(part, str) and part in found.model_fields:
            annotation = found.model_fields[part].annotation
            continue
        element = _element_of(annotation)
        if element is None:
            return set()
        annotation = element  # an array index or a table's own key
    found = _model_in(annotation)
    return set(found.model_fields) if found is not None else set()


def _members(annotation: Any) -> list[Any]:
    """``annotation`` without ``Annotated`` and ``None``, a union split into its members."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) if arg is not None for m in _members(arg)]
    return [annotation] if annotation is not type(None) else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _element_of(annotation: Any) -> Any:
    """What a ``tuple[X, ...]``, ``list[X]`` or ``dict[str, X]`` holds."""
    for member in _members(annotation):
        args = get_args(member)
        if get_origin(member) in (tuple, list, set, frozenset) and args:
            return args[0]
        if get_origin(member) is dict and len(args) == 2:
            return args[1]
    return None


def toml_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue  # pydantic's internal validator names are noise to a TOML author
        else:
            out += f".{part}" if out else str(part)
    return out


# pydantic's words for a wrong shape, in the words of the file being edited.
_TOML_WORDING = {
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "string_type": "must be a string (in quotes)",
}


def check_isolated_types(
    scheduler: SchedulerConfig | None, check_types: Mapping[str, Any], issues: list[ConfigIssue]
) -> None:
    """``[scheduler] isolate`` names check types: each must be one that is loaded."""
    for index, name in enumerate(scheduler.isolate if scheduler else ()):
        if name not in check_types:
            hint = did_you_mean(name, check_types)
            issues.append(
                ConfigIssue(f"scheduler.isolate[{index}]", f"unknown check type {name!r}{hint}")
            )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    # The word itself is no suggestion: it is a key somewhere else, not here.
    close = difflib.get_close_matches(word, [c for c in candidates if c != word], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_locations(
    monitors: Iterable[Any],
    raw_monitors: list[Any],
    check_types: Mapping[str, Any],
    issues: list[ConfigIssue],
) -> None:
    """``locations`` only on a monitor a probe can check (docs/probes.md): a push
    monitor judges the pings the server receives, a manual one the state set on the
    server, a group its members' states there; none of them can run elsewhere."""
    index_of = _monitor_indexes(raw_monitors)
    for monitor in monitors:
        check_type = check_types.get(monitor.type)
        if monitor.locations is None or check_type is None:
            continue
        try:
            judged_here = (
                check_type.accepts_pings
                or check_type.accepts_state
                or bool(check_type.references(monitor.options))
            )
        except Exception:
            continue  # check_monitor_references reports a failing references()
        if judged_here:
            issues.append(
                ConfigIssue(
                    f"monitors[{index_of.get(monitor.id, '?')}].locations",
                    f"a {monitor.type} monitor is judged on the server; it cannot be checked"
                    " from other locations",
                )
            )


def _monitor_indexes(raw_monitors: list[Any]) -> dict[str, int]:
    """Each monitor id and where it first stands in the file (for error paths)."""
    index_of: dict[str, int] = {}
    for index, raw in enumerate(raw_monitors):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            index_of.setdefault(raw["id"], index)
    return index_of
