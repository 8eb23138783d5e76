"""Every job has exactly one consumer, on the queue its producers send it to."""

from __future__ import annotations

from notify_service.worker import spec as notify_spec
from routing_service.worker import spec as routing_spec
from shared.queue.contract import JOB_QUEUES, Job, Queue


def _consumers() -> dict[str, list[Queue]]:
    found: dict[str, list[Queue]] = {}
    for worker in (routing_spec(), notify_spec("sms"), notify_spec("otp"), notify_spec("webhooks")):
        for function in worker.functions:
            found.setdefault(function.name, []).append(worker.queue)
    return found


def test_every_job_has_exactly_one_consumer_on_its_queue() -> None:
    consumers = _consumers()
    for job in Job:
        assert consumers.get(job.value) == [JOB_QUEUES[job]], job


def test_every_queue_is_consumed() -> None:
    consumed = {queue for queues in _consumers().values() for queue in queues}
    assert consumed == set(Queue)


def test_no_worker_runs_a_job_nobody_sends() -> None:
    assert set(_consumers()) == {job.value for job in Job}
