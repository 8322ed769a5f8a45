"""Kafka records to ledger messages: Avro single-object decoding outside kafka-python's deserializer."""

from __future__ import annotations

from typing import Any

from ledger.avro import AvroCodec, AvroDecodeError
from ledger.domain.validation import MAX_MESSAGE_BYTES
from ledger.errors import ErrorCode, EventRejected
from ledger.store.messages import Message

__all__ = ["record_to_message"]


def record_to_message(record: Any, codec: AvroCodec) -> Message:
    """Decode one ``ConsumerRecord``; a bad one becomes a message carrying its error (never raised).

    Decoding here rather than in ``value_deserializer`` keeps a bad record from blocking its partition.
    """
    raw = record.value
    where = (record.topic, record.partition, record.offset)
    if not raw:
        error = EventRejected(ErrorCode.MALFORMED_JSON, "", "the message value is empty")
        return Message(*where, error=error, raw=raw or None)
    if len(raw) > MAX_MESSAGE_BYTES:
        error = EventRejected(
            ErrorCode.PAYLOAD_TOO_LARGE, "", f"the message is larger than {MAX_MESSAGE_BYTES} bytes"
        )
        return Message(*where, error=error, raw=None)
    try:
        event = codec.decode(raw)
    except AvroDecodeError as exc:
        return Message(*where, error=exc, raw=raw)
    return Message(*where, event=event, raw=raw)
