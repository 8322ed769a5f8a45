"""The store side: everything that writes the ledger and keeps it secret and tamper-evident.

- ``database``, ``dialect``, ``tables``: eventsourcing's recorder plus the ledger's tables, one
  transaction, on SQLite or PostgreSQL.
- ``ingest``, ``messages``, ``writer``: the append path (one write transaction per batch).
- ``context``, ``erasure``, ``parking``: decisions the writer delegates (crypto-shredding, forward
  references); written against ``context.WriteContext``, so they do not import the writer.
- ``crypto``, ``keystore``: AES-256-GCM, the master key, data keys per subject and category.
- ``chain``: the integrity chain over the stored records.
"""
