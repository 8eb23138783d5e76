"""The relay's plan of arq jobs for batched queues, and the cap on SMS in flight."""

from __future__ import annotations

import asyncio

import pytest

from notify_service.jobs.slots import Slots, SlotsBusy
from shared.queue.contract import BATCHES, Job, arq_job_id, batch_size
from shared.queue.relay import DueRow, plan_jobs


def _rows(job: str, queue: str, count: int) -> list[DueRow]:
    return [DueRow(f"{job}-{n}", queue, job, 1 + n % 2) for n in range(count)]


def test_status_sms_rows_travel_in_batches_named_after_their_first_row() -> None:
    size = BATCHES[Job.send_sms]
    rows = _rows("send_sms", "notify", size + 1)
    jobs = plan_jobs(rows, "p")
    assert [len(job.outbox_ids) for job in jobs] == [size, 1]
    assert jobs[1].outbox_ids == (rows[-1].id,)
    assert jobs[1].job_id == arq_job_id("p", rows[-1].id, rows[-1].attempts)
    assert sorted(i for job in jobs for i in job.outbox_ids) == sorted(r.id for r in rows)


def test_jobs_that_are_not_batched_keep_one_job_per_row() -> None:
    rows = _rows("send_otp", "otp", 3) + _rows("route_request", "routing", 2)
    jobs = plan_jobs(rows, "p")
    assert [job.outbox_ids for job in jobs] == [(row.id,) for row in rows]
    assert [job.job_id for job in jobs] == [arq_job_id("p", r.id, r.attempts) for r in rows]


def test_rows_of_different_jobs_never_share_a_batch() -> None:
    rows = _rows("send_sms", "notify", 2) + _rows("send_otp", "otp", 1)
    jobs = plan_jobs(rows, "p")
    assert {(job.function, job.outbox_ids) for job in jobs} == {
        ("send_sms", ("send_sms-0", "send_sms-1")),
        ("send_otp", ("send_otp-0",)),
    }


def test_unknown_jobs_are_not_batched() -> None:
    assert batch_size("no_such_job") == 1


async def test_slots_refuse_a_batch_when_full_and_free_up_after() -> None:
    slots = Slots(3)
    async with slots.hold(2, wait=1):
        with pytest.raises(SlotsBusy):
            async with slots.hold(2, wait=0.05):
                pass
        async with slots.hold(1, wait=0.05):
            pass
    async with slots.hold(5, wait=0.05):  # more than the limit takes the whole limit
        pass


async def test_slots_wait_for_a_batch_to_finish() -> None:
    slots = Slots(2)
    order: list[str] = []

    async def first() -> None:
        async with slots.hold(2, wait=1):
            await asyncio.sleep(0.05)
            order.append("first done")

    async def second() -> None:
        await asyncio.sleep(0.01)
        async with slots.hold(1, wait=1):
            order.append("second started")

    await asyncio.gather(first(), second())
    assert order == ["first done", "second started"]
