"""The ``manual`` check: a monitor whose state the operator sets.

For a component nothing polls (storage that is simply always there) or one an
operator must override during a problem no check sees. The state is set with
``PUT /api/v1/monitors/{id}/state`` or ``uplight monitors set-state ID STATE``;
uplight keeps it in the database (a restart keeps it) and hands it to ``check``
as ``context.operator_state``. Until somebody sets it, the monitor is operational.

Each check reports the state as it stands: at once when it is set, and on the
monitor's interval like any other monitor, so its history, uptime, incidents and
notifications follow the operator's word.
"""

from __future__ import annotations

from typing import Any

from uplight import CheckContext, CheckOptions, CheckResult, CheckType, OperatorState, hookimpl

NOT_SET = "operational (no state set yet)"


class ManualOptions(CheckOptions):
    pass


class ManualCheck(CheckType):
    name = "manual"
    Options = ManualOptions
    description = "a state set by the operator (API or CLI), kept across restarts"
    accepts_state = True

    async def check(self, options: ManualOptions, context: CheckContext) -> CheckResult:
        state = context.operator_state or OperatorState()
        if state.set_at is None:
            message = NOT_SET
        else:
            message = state.message or f"set by {state.set_by or 'the operator'}"
        return CheckResult(state.status, None, message)


@hookimpl
def uplight_check_types(register: Any) -> None:
    register(ManualCheck)
