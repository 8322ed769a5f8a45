"""Storage: the eventsourcing recorders plus the ledger's own tables, on SQLite or PostgreSQL."""
