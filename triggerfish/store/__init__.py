"""Persistence for the hub: one schema for SQLite (embedded) and PostgreSQL (scale-out)."""
