"""Which Argo features (the conformance corpus's ``needs`` vocabulary) this build implements.

The conformance runner uses this to decide which corpus files it can run; every feature added to
the runtime should extend it, so the reported pass rate always covers everything claimed.
"""

from __future__ import annotations

PASSIVE_NEEDS = frozenset(
    {
        "dns-config",
        "metrics",
        "node-selector",
        "pdb",
        "pod-gc",
        "pod-metadata",
        "pod-resources",
        "priority",
        "scheduling",
        "security-context",
        "ttl",
        "workflow-metadata",
    }
)
"""Features with no effect on a single-machine run (the corpus header calls them safe no-ops)."""

IMPLEMENTED_NEEDS = frozenset(
    {
        "suspend",
        "stop-terminate",
        "workflow-template",
        "cluster-workflow-template",
        "memoize",
        "synchronization",
        "artifact-repository",
        "artifact-repository-ref",
        "artifacts-raw",
        "artifacts-http",
        "artifacts-s3",
        "archive-logs",
        "secrets",
    }
)
"""``secrets`` here is secret references of artifact locations (``accessKeySecret``…), read from the
hub's ``secrets`` setting; secret volumes (``volumes``) and ``env.valueFrom`` are still refused."""

SUPPORTED_NEEDS = PASSIVE_NEEDS | IMPLEMENTED_NEEDS
