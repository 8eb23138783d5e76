"""Request states, the labels residents read, and which moves are allowed."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """States of a request (see architecture: draft → submitted → routed → …)."""

    draft = "draft"
    submitted = "submitted"
    routed = "routed"
    in_progress = "in_progress"
    awaiting_resident = "awaiting_resident"
    resolved = "resolved"
    rejected = "rejected"
    withdrawn = "withdrawn"
    closed = "closed"


# Labels close to the real service's wording; Arabic first.
LABELS: dict[Status, tuple[str, str]] = {
    Status.draft: ("مسودة", "Draft"),
    Status.submitted: ("تم الاستلام", "Received"),
    Status.routed: ("تحت المعالجة", "Under processing"),
    Status.in_progress: ("تحت المعالجة", "Under processing"),
    Status.awaiting_resident: ("معاد لمقدم الطلب", "Returned to the applicant"),
    Status.resolved: ("تمت المعالجة", "Processed"),
    Status.rejected: ("مرفوض", "Rejected"),
    Status.withdrawn: ("مسحوب", "Withdrawn"),
    Status.closed: ("مغلق", "Closed"),
}


def label(status: str) -> dict[str, str]:
    """Both labels of a status, for API responses."""
    ar, en = LABELS.get(Status(status), (status, status))
    return {"ar": ar, "en": en}
