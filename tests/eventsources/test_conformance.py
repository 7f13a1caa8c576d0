"""Every EventSource manifest of Argo Events' examples and e2e suite: the four kinds Triggerfish
runs are accepted; every other kind is refused with a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventsources.spec import SUPPORTED_KINDS, load_event_source
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import parse_documents

ROOT = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argo-events"
"""``../shared/conformance/argo-events`` next to the repository (see ARCHITECTURE.md)."""

# Manifests of a supported kind that use a feature Triggerfish refuses on purpose.
EXPECTED_REFUSALS = {
    "github.yaml": ["spec.github.example.apiToken"],  # asks Argo to create the hook via the GitHub API
}


def manifests() -> list[Path]:
    if not ROOT.is_dir():
        return []
    files = sorted((ROOT / "event-sources").glob("*.y*ml")) + sorted(
        (ROOT / "e2e-testdata").glob("es-*.y*ml")
    )
    return [path for path in files if "kind: EventSource" in path.read_text()]


FILES = manifests()


@pytest.mark.skipif(not FILES, reason=f"Argo Events conformance corpus not found at {ROOT}")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_event_source_manifest(path: Path) -> None:
    for doc in parse_documents(path.read_text(), str(path)):
        kinds = [
            key
            for key in doc.get("spec", {})
            if key not in ("template", "service", "replicas", "eventBusName")
        ]
        unsupported = [kind for kind in kinds if kind not in SUPPORTED_KINDS]
        expected = [f"spec.{kind}" for kind in unsupported] + EXPECTED_REFUSALS.get(path.name, [])
        if not expected:
            event_source = load_event_source(doc, str(path))
            assert {kind for kind, _, _ in event_source.entries()} == set(kinds)
            continue
        with pytest.raises(ManifestError) as caught:
            load_event_source(doc, str(path))
        paths = [issue.path for issue in caught.value.issues]
        assert paths == expected, caught.value
        for issue in caught.value.issues:
            assert issue.reason.startswith("not supported by Triggerfish yet"), issue


@pytest.mark.skipif(not FILES, reason=f"Argo Events conformance corpus not found at {ROOT}")
def test_corpus_covers_every_supported_kind() -> None:
    seen = {
        kind for path in FILES for doc in parse_documents(path.read_text()) for kind in doc.get("spec", {})
    }
    assert set(SUPPORTED_KINDS) <= seen
