"""The hub's HTTP API: Argo Server's JSON API shapes plus Triggerfish's own endpoints."""
