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


# Jobs whose consumer takes several outbox rows at once: the relay puts up to this many row ids
# in one arq job, so a burst pays the queue's per-job cost (about six Redis round trips) and
# the job's two transactions once per batch instead of once per row. Each row keeps its own
# state in Postgres, so a batch run twice, or half done, still sends each message once.
BATCHES: dict[Job, int] = {Job.send_sms: 50, Job.fan_out_event: 50}


def batch_size(job: str) -> int:
    """How many outbox rows one arq job of `job` may carry (1 unless listed in BATCHES)."""
    return next((size for name, size in BATCHES.items() if name.value == job), 1)


def arq_queue_name(prefix: str, queue: Queue | str) -> str:
    """The Redis sorted-set name of a logical queue under this deployment's prefix."""
    return f"{prefix}:queue:{queue}"


def arq_job_id(prefix: str, outbox_id: str, attempt: int) -> str:
    """One arq job id per relay attempt, so a re-drive is never refused as a duplicate."""
    return f"{prefix}:{outbox_id}:{attempt}"
