"""The agent loop: ask the model, judge what it proposes, return the verdict; repeat.

One conversation in the Anthropic Messages format. A proposal's verdict goes back as the
`tool_result` of its `propose_tests` call (`is_error` when anything was rejected), so repair
happens on the same cached prefix. The model ends the run (`finish`), or a budget does; every
message is journaled before the next step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.config import Budget
from agent.journal import Journal
from agent.models.base import ContextTooLong, Model, ModelError
from agent.quality import verdict_feedback
from agent.schema import CheckResult, ProposedFile
from agent.state import LAST_ROUND, LoopState, over_budget, rounds_left, rounds_note
from agent.tools import FINISH, PROPOSE, ToolBox

NUDGE = "Use the tools: propose test files with `propose_tests`, or call `finish` if you are done."
CUT_OFF = (
    "Your reply was cut off at the output token limit, so nothing in it was run. "
    "Propose fewer or shorter files at a time."
)


class Judge(Protocol):
    def check(self, files: list[ProposedFile]) -> CheckResult: ...


@dataclass
class Loop:
    model: Model
    judge: Judge
    tools: ToolBox
    journal: Journal
    system: str
    budget: Budget
    max_tokens: int = 16_000
    on_progress: Callable[[str], None] | None = None  # the CLI's status line
    shrink_context: Callable[[], dict[str, Any]] | None = None  # a smaller first context block

    def run(self, state: LoopState) -> LoopState:
        started = time.monotonic() - state.elapsed
        if state.pending is not None:  # resumed after the model answered but before we acted
            (content, stop_reason), state.pending = state.pending, None
            self._take_turn(state, content, stop_reason)
        while state.stopped_by is None:
            state.elapsed = time.monotonic() - started
            if cause := over_budget(state, self.budget):
                unread = " before the model read the last verdict" if state.undelivered else ""
                state.stopped_by, state.message = cause, f"the {cause} budget ran out{unread}"
                break
            self._progress(f"turn {state.iterations + 1}: waiting for the model")
            try:
                response = self.model.complete(
                    system=self.system,
                    messages=state.messages,
                    tools=self.tools.specs(),
                    max_tokens=self.max_tokens,
                )
            except ModelError as exc:
                if not (isinstance(exc, ContextTooLong) and self._shrink(state)):
                    state.stopped_by, state.message = "model_error", str(exc)
                    self.journal.append("model_error", error=str(exc))
                continue
            state.iterations += 1
            state.undelivered = False  # the model has read everything sent so far
            state.usage += response.usage
            state.cost += response.cost_usd
            self.journal.append("response", response=response)
            self._take_turn(state, response.content, response.stop_reason)
        state.elapsed = time.monotonic() - started
        return state

    def _shrink(self, state: LoopState) -> bool:
        """Trim the repository context once, so the request can be asked again."""
        if self.shrink_context is None or state.shrunk:
            return False
        state.shrunk = True
        first = state.messages[0]["content"]
        state.messages[0] = {"role": "user", "content": [self.shrink_context(), *first[1:]]}
        self.journal.append("context_shrunk", content=state.messages[0]["content"])
        return True

    def _take_turn(self, state: LoopState, content: list[dict[str, Any]], stop_reason: str) -> None:
        if stop_reason == "refusal":
            state.stopped_by, state.message = "model_error", "the model declined to continue"
            return
        if stop_reason == "max_tokens":
            # A cut-off tool call has incomplete input: keep only the text, and ask again.
            content = [b for b in content if b.get("type") == "text"] or [
                {"type": "text", "text": "(cut off)"}
            ]
            self.add(state, "assistant", content)
            self.add(state, "user", [{"type": "text", "text": CUT_OFF}])
            return
        self.add(state, "assistant", content or [{"type": "text", "text": "(empty reply)"}])
        calls = [b for b in content if b.get("type") == "tool_use"]
        if not calls:
            self.add(state, "user", [{"type": "text", "text": NUDGE}])
            return
        results = []
        for call in calls:
            text, is_error = self._call_tool(state, call)
            results.append(
                {"type": "tool_result", "tool_use_id": call["id"], "content": text}
                | ({"is_error": True} if is_error else {})
            )
        finish = next((c for c in calls if c["name"] == FINISH), None)
        if finish is not None:  # only the model decides that it is done
            summary = finish.get("input")
            state.stopped_by = "finish"
            state.message = str(summary.get("summary", "")) if isinstance(summary, dict) else ""
        # The end of the run is journaled with the answer, so a crash cannot separate them.
        stop = {"cause": state.stopped_by, "message": state.message}
        self.add(state, "user", results, **({"stop": stop} if state.stopped_by else {}))

    def _call_tool(self, state: LoopState, call: dict[str, Any]) -> tuple[str, bool]:
        if call["name"] == FINISH:
            return "Finished.", False
        if call["name"] != PROPOSE:
            self._progress(f"turn {state.iterations}: {call['name']}")
            return self.tools.dispatch(call["name"], call.get("input"))
        if rounds_left(state, self.budget) <= 0:
            return f"No proposal rounds are left. {LAST_ROUND}", True
        files = self.tools.proposal(call.get("input"))
        if isinstance(files, str):
            return files, True
        self._progress(f"turn {state.iterations}: judging {len(files)} file(s) in the sandbox")
        result = self.judge.check(files)
        self.journal.append("verdict", result=result)
        for kind, data in state.take_verdict(result, files):
            self.journal.append(kind, **data)
        kept_all = bool(result.files) and all(f.accepted for f in result.files)
        return f"{verdict_feedback(result)}\n\n{rounds_note(state, self.budget)}", not kept_all

    def add(self, state: LoopState, role: str, content: list[dict[str, Any]], **extra: Any) -> None:
        state.messages.append({"role": role, "content": content})
        self.journal.append("message", role=role, content=content, **extra)

    def _progress(self, text: str) -> None:
        if self.on_progress:
            self.on_progress(text)
