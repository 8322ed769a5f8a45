"""The store side: everything that writes the ledger and keeps it secret and tamper-evident.

- ``database``, ``dialect``, ``tables``: eventsourcing's recorder plus the ledger's tables, one
  transaction, on SQLite or PostgreSQL.
- ``ingest``, ``messages``, ``writer``: the append path (one write transaction per batch).
- ``context``, ``erasure``, ``parking``: decisions the writer delegates (crypto-shredding, forward
  references); written against ``context.WriteContext``, so they do not import the writer.
- ``crypto``, ``keystore``: AES-256-GCM, the master key, data keys per subject and category.
- ``masterkey``: which master key opens a ledger, its key-check value, rotation; ``files``: private
  (0700/0600) folders and files whatever the umask.
- ``chain``: the integrity chain over the stored records; ``integrate``: their leaves in the Merkle tree
  (in the append transaction, and once for a ledger that predates the tree); ``tree_audit``: what
  ``verify`` checks of the tree and the signed checkpoints.
- ``dead_letters``: the break-glass reader of a dead letter's encrypted raw bytes.
"""
