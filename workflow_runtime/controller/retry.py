"""``retryStrategy``: a Retry node whose attempts ``name(0)``, ``name(1)``… run the real template,
following Argo's ``processNodeRetries`` (policy, limit, backoff, expression)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from workflow_runtime.controller import names
from workflow_runtime.controller.durations import humanize, parse_duration
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.spec.common import RetryStrategy
from workflow_runtime.spec.template import Template
from workflow_runtime.state import Node, NodePhase, NodeType, utcnow
from workflow_runtime.templating import Scope, render_value

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun


@dataclass(frozen=True, slots=True)
class Stop:
    phase: NodePhase
    message: str


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


def last_retry_variables(last: Node | None) -> dict[str, str]:
    """``lastRetry.*`` — all strings, as Argo passes them."""
    if last is None:
        return {
            "lastRetry.exitCode": "0",
            "lastRetry.status": "",
            "lastRetry.duration": "0",
            "lastRetry.message": "",
        }
    exit_code = (last.outputs or {}).get("exitCode", "-1")
    duration = 0.0
    if last.started_at and last.finished_at:
        duration = (last.finished_at - last.started_at).total_seconds()
    return {
        "lastRetry.exitCode": str(exit_code),
        "lastRetry.status": last.phase.value,
        "lastRetry.duration": f"{duration:g}",
        "lastRetry.message": last.message,
    }


def _limit(strategy: RetryStrategy) -> int | None:
    if strategy.limit is None or strategy.limit == "":
        return None
    return int(strategy.limit)


def _policy(strategy: RetryStrategy) -> str:
    return strategy.retry_policy or ("Always" if strategy.expression else "OnFailure")


def _policy_allows(policy: str, last: Node) -> bool:
    if policy == "Always":
        return last.phase.failed_or_error
    if policy == "OnFailure":
        return last.phase == NodePhase.FAILED
    if policy == "OnError":
        return last.phase == NodePhase.ERROR
    return last.phase.failed_or_error and _transient(last.message)


_TRANSIENT = (
    "connection reset by peer",
    "i/o timeout",
    "connection timed out",
    "connect: connection refused",
    "Connection closed by foreign host",
    "net/http: TLS handshake timeout",
    "http2: client connection lost",
    "invalid connection",
)


def _transient(message: str) -> bool:
    return any(pattern in message for pattern in _TRANSIENT)


def decide(run: WorkflowRun, strategy: RetryStrategy, attempts: list[Node]) -> Stop | Wait | None:
    """What to do after the last attempt ended: stop with a phase, wait (backoff), or retry now."""
    last = attempts[-1]
    if not last.phase.failed_or_error:
        return Stop(NodePhase.SUCCEEDED, "")
    if run.shutdown:
        return Stop(last.phase, f"Stopped with strategy '{run.shutdown}'")
    if run.deadline_exceeded:
        return Stop(last.phase, f"retry exceeded workflow deadline {run.deadline_text()}")
    limit = _limit(strategy)
    wait = 0.0
    if strategy.backoff is not None:
        backoff = strategy.backoff
        now = utcnow()
        max_deadline = None
        if backoff.max_duration and attempts[0].started_at:
            max_deadline = attempts[0].started_at.timestamp() + parse_duration(backoff.max_duration)
            if now.timestamp() > max_deadline:
                return Stop(last.phase, "Max duration limit exceeded")
        if not backoff.duration:
            return Stop(NodePhase.ERROR, "no base duration specified for retryStrategy")
        wait = parse_duration(backoff.duration)
        factor = int(backoff.factor) if backoff.factor else 0
        if factor > 0:
            wait *= factor ** (len(attempts) - 1)
        if backoff.cap:
            wait = min(wait, parse_duration(backoff.cap))
        finished = (last.finished_at or now).timestamp()
        if max_deadline is not None and finished + wait > max_deadline:
            return Stop(last.phase, "Backoff would exceed max duration limit")
        wait = (
            max(0.0, finished + wait - now.timestamp())
            if limit is not None and len(attempts) <= limit
            else 0.0
        )
    if not _policy_allows(_policy(strategy), last):
        return Stop(last.phase, last.message)
    if limit is not None and len(attempts) > limit:
        return Stop(last.phase, "No more retries left")
    if strategy.expression:
        env = {"retries": str(len(attempts) - 1), **last_retry_variables(last)}
        try:
            proceed = compile_expression(strategy.expression).evaluate(Scope(env).env)
        except ExpressionError as exc:
            return Stop(NodePhase.ERROR, str(exc))
        if not isinstance(proceed, bool):
            return Stop(NodePhase.ERROR, f"unable to cast expression result '{proceed}' to bool")
        if not proceed:
            return Stop(last.phase, "retryStrategy.expression evaluated to false")
    return Wait(wait) if wait > 0 else None


async def execute_retry(
    run: WorkflowRun, inv: Invocation, template: Template, strategy: RetryStrategy
) -> Node:
    node = run.tree.by_name(inv.node_name) or run.init_executable(
        inv, NodeType.RETRY, NodePhase.RUNNING, template
    )
    base_display = node.display_name
    while True:
        attempts = [
            run.tree.get(c) for c in node.children if not (run.tree.get(c).node_flag or {}).get("hooked")
        ]
        last = attempts[-1] if attempts else None
        if last is None or last.fulfilled:
            decision = decide(run, strategy, attempts) if last is not None else None
            if isinstance(decision, Stop):
                node.outputs = last.outputs if last is not None else None
                return run.tree.mark(node, decision.phase, decision.message)
            if isinstance(decision, Wait):
                run.tree.mark(node, node.phase, f"Backoff for {humanize(decision.seconds)}")
                await run.sleep(decision.seconds)
                run.tree.mark(node, node.phase, "")
                continue
            attempt = len(attempts)
        else:
            attempt = len(attempts) - 1
        child_name = names.retry_child_name(inv.node_name, attempt)
        variables = {
            "retries": str(attempt),
            "pod.name": names.pod_name(run.name, child_name, template.name or ""),
            **last_retry_variables(attempts[attempt - 1] if attempt > 0 else None),
        }
        attempt_template = Template.model_validate(
            render_value(template.to_argo(), Scope(variables), allow_unresolved=True)
        )
        attempt_inv = Invocation(
            node_name=child_name,
            call=inv.call,
            scope=inv.scope,
            boundary_id=inv.boundary_id,
            on_exit=inv.on_exit,
            display_name=f"{base_display}({attempt})",
            node_flag={"retried": True},
            parents=(node.id,),
            include_result=inv.include_result,
        )
        await run.execute_kind(attempt_inv, attempt_template)
