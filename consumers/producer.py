"""The producer SDK upstream teams use to publish privacy events to Kafka (design: Wire format).

``build_event`` makes the JSON form of an event (spec 3.1). ``LedgerProducer`` validates it exactly as
the ledger will, encodes it as an Avro single object in the current schema release and sends it,
keyed by ``subject_id``, through an idempotent kafka-python producer with ``acks="all"``: an invalid
event is refused here instead of landing in the ledger's dead-letter queue.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from consumers.errors import BrokerUnavailable, ConsumerError, DeliveryFailed, ProducerConfigError
from ledger.avro import AvroCodec, AvroEncodeError
from ledger.codelists import load_code_lists
from ledger.domain.codes import CodeLists
from ledger.domain.validation import SUPPORTED_SCHEMA_VERSION, validate_event
from ledger.errors import EventRejected

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DEFAULT_TOPIC",
    "Clock",
    "Delivered",
    "Delivery",
    "LedgerProducer",
    "PublishReport",
    "Rejection",
    "build_event",
]

DEFAULT_TOPIC = "privacy.events.v1"
Clock = Callable[[], datetime]

# kafka-python 3 silently turns idempotence off when one of these is set against it (KIP-679).
_ACKS_ALL = ("all", -1)
_MAX_IN_FLIGHT = 5
# The producer encodes keys and values itself; a serializer would encode them a second time.
_SERIALIZERS = ("key_serializer", "value_serializer")


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- the JSON form -----------------------------------------------------------------------------------
def build_event(
    event_type: str,
    subject_id: str | None,
    payload: Mapping[str, Any] | DataclassInstance,
    *,
    producer_system: str,
    occurred_at: datetime | str | None = None,
    event_id: str | None = None,
    producer_instance: str | None = None,
    correlation_id: str | None = None,
    actor_ref: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Return the JSON form of an event (spec 3.1); by default a new ``event_id`` and ``occurred_at`` now."""
    if occurred_at is None:
        occurred_at = (clock or _utc_now)()
    producer = {"system": producer_system}
    if producer_instance is not None:
        producer["instance"] = producer_instance
    event: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": SUPPORTED_SCHEMA_VERSION,
        "occurred_at": _rfc3339(occurred_at) if isinstance(occurred_at, datetime) else occurred_at,
        "producer": producer,
    }
    optional = {"subject_id": subject_id, "correlation_id": correlation_id, "actor_ref": actor_ref}
    event.update((name, value) for name, value in optional.items() if value is not None)
    event["payload"] = _payload_dict(payload)
    return event


def _rfc3339(instant: datetime) -> str:
    if instant.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware")
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _payload_dict(payload: Mapping[str, Any] | DataclassInstance) -> dict[str, Any]:
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        return dict(_json_lists(dataclasses.asdict(payload, dict_factory=_without_none)))
    if isinstance(payload, Mapping):
        return dict(payload)
    raise TypeError("payload must be a mapping or a dataclass instance")


def _without_none(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: value for name, value in items if value is not None}


def _json_lists(value: Any) -> Any:
    # asdict keeps tuples (the natural type of a frozen dataclass's list field); JSON has only lists.
    if isinstance(value, dict):
        return {k: _json_lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_lists(v) for v in value]
    return value


# -- results -----------------------------------------------------------------------------------------
class Rejection(NamedTuple):
    """An event refused before sending: its number (index or line), error code and path; never a value."""

    number: int  # the index in send_many's input, or the line number in a file
    code: str
    path: str


@dataclasses.dataclass(frozen=True)
class PublishReport:
    """How many events were sent and acknowledged, and which were refused."""

    sent: int
    rejected: list[Rejection]


class Delivered(NamedTuple):
    """Where the broker stored an event."""

    topic: str
    partition: int
    offset: int
    event_id: str


class _KafkaFuture(Protocol):
    is_done: bool

    def get(self, timeout: float | None = None) -> Any: ...


class _KafkaProducer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> _KafkaFuture: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


class Delivery:
    """The broker's pending acknowledgement of one sent event."""

    __slots__ = ("_future", "event_id")

    def __init__(self, future: _KafkaFuture, event_id: str) -> None:
        self._future = future
        self.event_id = event_id

    def done(self) -> bool:
        """True once the broker acknowledged or refused the event."""
        return bool(self._future.is_done)

    def get(self, timeout: float | None = None) -> Delivered:
        """Wait for the acknowledgement; ``DeliveryFailed`` if it was refused or ``timeout`` passed."""
        try:
            meta = self._future.get(timeout=timeout)
        except KafkaError as exc:
            raise DeliveryFailed(
                f"the broker did not acknowledge the event ({type(exc).__name__})", event_id=self.event_id
            ) from exc
        return Delivered(meta.topic, meta.partition, meta.offset, self.event_id)


# -- the producer ------------------------------------------------------------------------------------
class LedgerProducer:
    """Validates, encodes (Avro, current release) and sends events keyed by subject, idempotently."""

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        topic: str = DEFAULT_TOPIC,
        *,
        codes: CodeLists | None = None,
        codec: AvroCodec | None = None,
        clock: Clock | None = None,
        **kafka_config: Any,
    ) -> None:
        config = _producer_config(kafka_config)
        self.topic = topic
        self._codes = load_code_lists() if codes is None else codes
        self._codec = AvroCodec() if codec is None else codec
        self._clock = clock or _utc_now
        try:
            self._kafka: _KafkaProducer = KafkaProducer(bootstrap_servers=bootstrap_servers, **config)
        except KafkaTimeoutError as exc:
            raise BrokerUnavailable(
                f"no Kafka broker answered on {bootstrap_servers} ({type(exc).__name__})"
            ) from exc
        except KafkaError as exc:
            raise ConsumerError(f"the Kafka producer did not start ({type(exc).__name__})") from exc
        except ValueError as exc:  # e.g. a compression codec the client cannot use
            raise ProducerConfigError(f"kafka-python refused the settings ({type(exc).__name__})") from exc

    def encode_only(self, event: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """Validate ``event`` and return the Kafka key and value it would be sent with, sending nothing."""
        key, value, _ = self._encode(event)
        return key, value

    def send(self, event: Mapping[str, Any]) -> Delivery:
        """Validate and send one event; an invalid one raises ``EventRejected`` and is not sent."""
        key, value, event_id = self._encode(event)
        try:
            future = self._kafka.send(self.topic, value=value, key=key)
        except KafkaError as exc:
            raise DeliveryFailed(
                f"the producer did not take the event ({type(exc).__name__})", event_id=event_id
            ) from exc
        return Delivery(future, event_id)

    def send_many(self, events: Iterable[Mapping[str, Any]]) -> PublishReport:
        """Send every valid event, report invalid ones by index, and wait until the sent ones are stored."""
        return self.send_numbered(enumerate(events))

    def send_numbered(self, items: Iterable[tuple[int, Mapping[str, Any] | EventRejected]]) -> PublishReport:
        """``send_many`` for events the caller numbered; an ``EventRejected`` item is only reported."""
        deliveries: list[Delivery] = []
        rejected: list[Rejection] = []
        for number, item in items:
            if isinstance(item, EventRejected):
                rejected.append(Rejection(number, item.code, item.path))
                continue
            try:
                deliveries.append(self.send(item))
            except EventRejected as exc:
                rejected.append(Rejection(number, exc.code, exc.path))
        self.flush()
        for delivery in deliveries:
            delivery.get()
        return PublishReport(sent=len(deliveries), rejected=rejected)

    def flush(self, timeout: float | None = None) -> None:
        """Block until every event sent so far is acknowledged or has failed."""
        try:
            self._kafka.flush(timeout)
        except KafkaError as exc:
            raise DeliveryFailed(f"flushing the producer failed ({type(exc).__name__})") from exc

    def close(self, timeout: float | None = None) -> None:
        """Flush and close the Kafka producer."""
        try:
            self._kafka.close(timeout)
        except KafkaError as exc:
            raise DeliveryFailed(f"closing the producer failed ({type(exc).__name__})") from exc

    def __enter__(self) -> LedgerProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _encode(self, event: Mapping[str, Any]) -> tuple[bytes, bytes, str]:
        normalised = validate_event(event, self._codes, self._clock())
        try:
            value = self._codec.encode(normalised)
        except AvroEncodeError as exc:  # e.g. an integer beyond Avro long: the event cannot travel
            raise EventRejected(exc.code, exc.path, exc.message) from None
        event_id = str(normalised["event_id"])
        # Alert-handling events have no subject; their own id spreads them over the partitions.
        key = str(normalised.get("subject_id") or event_id)
        return key.encode("utf-8"), value, event_id


def _producer_config(kafka_config: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's kafka-python settings plus ours, refusing any that would weaken delivery."""
    unknown = sorted(set(kafka_config) - set(KafkaProducer.DEFAULT_CONFIG))
    if unknown:
        raise ProducerConfigError(f"unknown Kafka producer settings: {', '.join(unknown)}")
    if kafka_config.get("enable_idempotence", True) is not True:
        raise ProducerConfigError("enable_idempotence must stay True")
    if "acks" in kafka_config and kafka_config["acks"] not in _ACKS_ALL:
        raise ProducerConfigError('acks must be "all": anything else turns idempotence off')
    retries = kafka_config.get("retries", 1)
    if not isinstance(retries, int | float) or retries < 1:
        raise ProducerConfigError("retries must be at least 1 (default: unlimited)")
    in_flight = kafka_config.get("max_in_flight_requests_per_connection", _MAX_IN_FLIGHT)
    if not isinstance(in_flight, int) or in_flight > _MAX_IN_FLIGHT:
        raise ProducerConfigError(
            f"max_in_flight_requests_per_connection must be at most {_MAX_IN_FLIGHT} for idempotence"
        )
    for name in _SERIALIZERS:
        if kafka_config.get(name) is not None:
            raise ProducerConfigError(f"{name} is not accepted: the producer encodes keys and values")
    # Explicit, so that kafka-python raises instead of silently downgrading on any later conflict.
    return {**kafka_config, "enable_idempotence": True, "acks": "all"}
