"""A small Dockerfile reader for the tests: instructions per build stage, nothing more."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).parents[1]


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # as written, continuation lines joined

    def words(self) -> list[str]:
        """The arguments in exec form (a JSON array) or split as a shell would."""
        text = self.args.strip()
        if text.startswith("["):
            return list(json.loads(text))
        return shlex.split(text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile, ``ARG`` defaults substituted into ``FROM``."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if logical and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.partition(" ")
        logical = ""
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
            continue
        if keyword == "FROM":
            words = rest.split()
            base = words[0]
            for name, value in args.items():
                base = base.replace(f"${{{name}}}", value)
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, alias))
            continue
        assert stages, f"{keyword} before FROM"
        stages[-1].instructions.append(Instruction(keyword, rest))
    return stages


def healthcheck_command(stage: Stage) -> list[str]:
    """The HEALTHCHECK's command, in exec form, its options dropped."""
    args = stage.last("HEALTHCHECK").args
    _, _, command = args.partition("CMD")
    return Instruction("CMD", command).words()
