"""Every document of Argo Events' examples and e2e suite (``../shared/conformance/argo-events``),
applied unmodified through the hub's manifest registry (``hub.manifests.apply``, what
``triggerfish apply`` and ``--manifests`` use), one fresh in-process hub per file.

Scope is decided here from the manifest's content, independently of the engine: EventSources of
kind webhook, github, calendar and minio; Sensors whose triggers are argoWorkflow, k8s creating a
Workflow, http or log, with any filter and parameter form. In-scope documents must be accepted;
out-of-scope ones must be refused with a ManifestError naming the field (``not supported by
Triggerfish`` or ``unknown field``). The summary table is printed (``pytest -s`` shows it) and the
observed counts are pinned, so any change in what the hub accepts shows up here.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from triggerfish.config import Settings
from triggerfish.hub import open_hub
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import parse_documents

ROOT = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argo-events"
"""``../shared/conformance/argo-events`` relative to the repository."""

SOURCE_KINDS = {"webhook", "github", "calendar", "minio", "kafka"}
PASSIVE_SOURCE_KEYS = {"template", "service", "replicas", "eventBusName"}
TRIGGER_KINDS = {"k8s", "argoWorkflow", "http", "log", "kafka"}
TEMPLATE_KEYS = {"name", "conditions", "conditionsReset"}
ARGO_TRIGGER_LEVEL_KEYS = {"parameters", "policy", "retryStrategy", "rateLimit", "atLeastOnce", "dlqTrigger"}
"""Fields of Argo's ``Trigger``; found inside ``template`` they are misplaced, and Argo ignores them
(its CRDs preserve unknown fields and Go's JSON decoder drops them)."""
UNSUPPORTED_LOCATIONS = {"s3", "url", "git", "configmap"}
REFUSAL_WORDINGS = ("not supported by Triggerfish", "unknown field")

# Observed on the corpus at argo-events 6478ece495f9: pinned so that a change is noticed.
EXPECTED_COUNTS = {
    ("EventSource", "in scope", "accepted"): 15,
    ("EventSource", "out of scope", "refused"): 28,
    ("Sensor", "in scope", "accepted"): 74,
    ("Sensor", "out of scope", "refused"): 18,
    ("WorkflowTemplate", "in scope", "accepted"): 1,
}


# ------------------------------------------------------------------------------------- scope


def _triggers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, trigger in enumerate(spec.get("triggers") or []):
        yield f"spec.triggers[{i}]", trigger
        if isinstance(trigger.get("dlqTrigger"), dict):
            yield f"spec.triggers[{i}].dlqTrigger", trigger["dlqTrigger"]


def out_of_scope(doc: dict[str, Any]) -> str | None:
    """Why a document needs something Triggerfish does not do (None when it is in scope)."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "EventSource":
        for key in spec:
            if key not in SOURCE_KINDS | PASSIVE_SOURCE_KEYS:
                return f"event source kind {key}"
        for name, entry in (spec.get("github") or {}).items():
            webhook = entry.get("webhook") or {}
            if webhook.get("url") and (entry.get("apiToken") or entry.get("githubApp")):
                return f"github.{name}: creating the hook through the GitHub API (apiToken + webhook.url)"
        return None
    if kind == "Sensor":
        for i, dep in enumerate(spec.get("dependencies") or []):
            if (dep.get("filters") or {}).get("script") or dep.get("transform"):
                return f"dependencies[{i}]: script filter or transform"
        for where, trigger in _triggers(spec):
            if ((trigger.get("policy") or {}).get("k8s")) or ((trigger.get("template") or {}).get("policy")):
                return f"{where}: k8s resource-state policy"
            template = trigger.get("template") or {}
            kinds = [k for k in template if k not in TEMPLATE_KEYS | ARGO_TRIGGER_LEVEL_KEYS]
            for key in kinds:
                if key not in TRIGGER_KINDS:
                    return f"{where}: trigger kind {key}"
                source = (template[key] or {}).get("source") or {}
                if UNSUPPORTED_LOCATIONS & set(source):
                    return f"{where}: resource from {sorted(UNSUPPORTED_LOCATIONS & set(source))}"
                resource = source.get("resource")
                if key == "k8s" and isinstance(resource, dict) and resource.get("kind") != "Workflow":
                    return f"{where}: k8s creating a {resource.get('kind')}"
        return None
    if kind in ("WorkflowTemplate", "Workflow", "CronWorkflow", "ClusterWorkflowTemplate"):
        return None
    return f"kind {kind}"


# ------------------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class Outcome:
    ref: str
    kind: str
    scope: str
    """``in scope`` or ``out of scope`` (with the reason in ``why``)."""
    why: str
    result: str
    """``accepted``, ``refused`` (ManifestError) or ``error`` (anything else: always a finding)."""
    detail: str
    issue_paths: tuple[str, ...] = ()


def corpus() -> list[tuple[str, dict[str, Any]]]:
    if not ROOT.is_dir():
        return []
    documents = []
    for path in sorted(ROOT.rglob("*.y*ml")):
        for index, doc in enumerate(parse_documents(path.read_text(), str(path))):
            documents.append((f"{path.relative_to(ROOT)}#{index}", doc))
    return documents


DOCUMENTS = corpus()
pytestmark = pytest.mark.skipif(
    not DOCUMENTS, reason=f"Argo Events conformance corpus not found at {ROOT} (../shared/conformance)"
)


async def apply_file(
    data_dir: Path, docs: list[tuple[str, dict[str, Any]]], opening: asyncio.Lock, host: str
) -> list[Outcome]:
    """Apply one file's documents, in order, to a fresh hub on ``data_dir`` whose event-source
    ports listen on ``host`` (a loopback address of its own, so hubs never share a port)."""
    outcomes: list[Outcome] = []
    async with opening:  # alembic's global context proxies break under concurrent upgrades
        hub = await open_hub(Settings(data_dir=data_dir, host=host))
    try:
        for ref, doc in docs:
            why = out_of_scope(doc)
            scope = "in scope" if why is None else "out of scope"
            kind = str(doc.get("kind"))
            try:
                applied = await hub.manifests.apply(doc, source=ref)
            except ManifestError as exc:
                paths = tuple(issue.path for issue in exc.issues)
                outcomes.append(Outcome(ref, kind, scope, why or "", "refused", str(exc), paths))
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                outcomes.append(Outcome(ref, kind, scope, why or "", "error", detail))
            else:
                outcomes.append(Outcome(ref, kind, scope, why or "", "accepted", applied.action))
    finally:
        await hub.close()
    return outcomes


async def apply_all(documents: list[tuple[str, dict[str, Any]]], concurrency: int = 8) -> list[Outcome]:
    """One hub per file (namespaces and routes of different files may clash). Several files at once:
    most of the time is spent waiting on SQLite and on servers shutting down. Each hub listens on
    its own loopback address, since several files name the same port (e.g. 12000)."""
    by_file: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for ref, doc in documents:
        by_file.setdefault(ref.split("#")[0], []).append((ref, doc))
    limit, opening = asyncio.Semaphore(concurrency), asyncio.Lock()
    with tempfile.TemporaryDirectory(prefix="corpus-") as scratch:
        # Migrating a new database costs more than applying a file: migrate one, copy it per hub.
        template = Path(scratch) / "template"
        await (await open_hub(Settings(data_dir=template), start_controller=False)).close()

        async def one(number: int, docs: list[tuple[str, dict[str, Any]]]) -> list[Outcome]:
            data_dir = Path(scratch) / str(number)
            data_dir.mkdir()
            for db in template.glob("triggerfish.db*"):
                shutil.copy(db, data_dir / db.name)
            async with limit:
                return await apply_file(data_dir, docs, opening, f"127.0.{number // 250}.{number % 250 + 2}")

        results = await asyncio.gather(*(one(n, docs) for n, docs in enumerate(by_file.values())))
    return [outcome for outcomes in results for outcome in outcomes]


def table(outcomes: list[Outcome]) -> str:
    width = max(len(o.ref) for o in outcomes)
    lines = [f"{'MANIFEST':<{width}}  {'KIND':<16}  {'SCOPE':<12}  RESULT    REASON"]
    for o in outcomes:
        reason = o.detail.replace("\n", " | ") if o.result != "accepted" else o.why
        lines.append(f"{o.ref:<{width}}  {o.kind:<16}  {o.scope:<12}  {o.result:<8}  {reason[:160]}")
    counts = Counter((o.kind, o.scope, o.result) for o in outcomes)
    lines.append("")
    lines.extend(
        f"{n:4d}  {kind} / {scope} / {result}" for (kind, scope, result), n in sorted(counts.items())
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    logging.getLogger("triggerfish").setLevel(logging.CRITICAL)  # sources log their (unused) ports
    results = asyncio.run(apply_all(DOCUMENTS))
    print("\nArgo Events corpus through hub.manifests.apply:\n" + table(results))
    return {o.ref: o for o in results}


# ------------------------------------------------------------------------------------- tests


def test_counts_are_stable(outcomes: dict[str, Outcome]) -> None:
    counts = Counter((o.kind, o.scope, o.result) for o in outcomes.values())
    assert dict(counts) == EXPECTED_COUNTS, table(list(outcomes.values()))


def test_nothing_raises_anything_but_a_manifest_error(outcomes: dict[str, Outcome]) -> None:
    errors = {ref: o.detail for ref, o in outcomes.items() if o.result == "error"}
    assert not errors


def test_out_of_scope_documents_are_refused_naming_the_field(outcomes: dict[str, Outcome]) -> None:
    wrong = {}
    for ref, o in outcomes.items():
        if o.scope != "out of scope":
            continue
        if o.result != "refused":
            wrong[ref] = f"{o.result} ({o.why})"
        elif not o.issue_paths or not all(p.startswith("spec.") for p in o.issue_paths):
            wrong[ref] = f"refusal does not name a spec field: {o.detail}"
        elif not any(wording in o.detail for wording in REFUSAL_WORDINGS):
            wrong[ref] = f"refusal does not say 'not supported'/'unknown field': {o.detail}"
    assert not wrong, wrong


IN_SCOPE = [ref for ref, doc in DOCUMENTS if out_of_scope(doc) is None]


@pytest.mark.parametrize("ref", IN_SCOPE)
def test_in_scope_document_is_accepted_unmodified(outcomes: dict[str, Outcome], ref: str) -> None:
    outcome = outcomes[ref]
    assert outcome.result == "accepted", outcome.detail
    assert outcome.detail == "created"
