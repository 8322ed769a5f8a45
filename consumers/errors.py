"""The error root of the ``consumers`` package, the Kafka edge where kafka-python errors are translated.

kafka-python exceptions never leave this package: they become a ``ConsumerError`` that names the
exception type and, where there is one, the event id. Texts carry ids, codes and setting names,
never a field value and never a configuration value (which may be a password).
"""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = ["BrokerUnavailable", "ConsumerError", "DeliveryFailed", "ProducerConfigError"]


class ConsumerError(LedgerError):
    """Root of every error the ``consumers`` package raises on purpose."""


class ProducerConfigError(ConsumerError):
    """A producer setting that is unknown or would weaken delivery (idempotence, ``acks="all"``)."""


class BrokerUnavailable(ConsumerError):
    """No broker answered on the bootstrap servers in time."""


class DeliveryFailed(ConsumerError):
    """Events were not handed to or acknowledged by the broker; ``event_id`` names one when known."""

    def __init__(self, message: str, *, event_id: str | None = None) -> None:
        self.event_id = event_id
        super().__init__(message if event_id is None else f"{message} (event {event_id})")
