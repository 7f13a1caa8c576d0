"""The event bus: a durable, ordered log with consumer groups (SQLite embedded, Kafka scale-out)."""
