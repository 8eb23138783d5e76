"""Queue and job names every producer and consumer agree on; one consumer per queue."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    """Logical queues; each has exactly one worker process type consuming it."""

    routing = "routing"
    notify = "notify"
    otp = "otp"
    webhooks = "webhooks"


class Job(StrEnum):
    """Job names; each belongs to exactly one queue (see JOB_QUEUES)."""

    route_request = "route_request"
    send_sms = "send_sms"
    send_otp = "send_otp"
    fan_out_event = "fan_out_event"
    deliver_webhook = "deliver_webhook"


JOB_QUEUES: dict[Job, Queue] = {
    Job.route_request: Queue.routing,
    Job.send_sms: Queue.notify,
    Job.send_otp: Queue.otp,
    Job.fan_out_event: Queue.webhooks,
    Job.deliver_webhook: Queue.webhooks,
}


def arq_queue_name(prefix: str, queue: Queue | str) -> str:
    """The Redis sorted-set name of a logical queue under this deployment's prefix."""
    return f"{prefix}:queue:{queue}"


def arq_job_id(prefix: str, outbox_id: str, attempt: int) -> str:
    """One arq job id per relay attempt, so a re-drive is never refused as a duplicate."""
    return f"{prefix}:{outbox_id}:{attempt}"
