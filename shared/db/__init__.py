"""The one Postgres schema all services share; each model names the service that writes it."""

from shared.db.base import Base
from shared.db.catalog import Agency, Department, DocumentType, ServiceType
from shared.db.identity import OtpChallenge, RefreshToken, Resident, Staff, StaffDepartment
from shared.db.notify import Notification
from shared.db.outbox import OutboxMessage
from shared.db.partners import PartnerAudit, PartnerClient, PartnerSecret
from shared.db.requests import Document, IdempotencyKey, Request, RequestEvent
from shared.db.routing import OfficerDuty, RequestAssignment, RoutingRule
from shared.db.statistics import StatisticsChange, StatisticsContribution, StatisticsDaily
from shared.db.webhooks import PartnerWebhook, WebhookDelivery

__all__ = [
    "Agency",
    "Base",
    "Department",
    "Document",
    "DocumentType",
    "IdempotencyKey",
    "Notification",
    "OfficerDuty",
    "OtpChallenge",
    "OutboxMessage",
    "PartnerAudit",
    "PartnerClient",
    "PartnerSecret",
    "PartnerWebhook",
    "RefreshToken",
    "Request",
    "RequestAssignment",
    "RequestEvent",
    "Resident",
    "RoutingRule",
    "ServiceType",
    "Staff",
    "StaffDepartment",
    "StatisticsChange",
    "StatisticsContribution",
    "StatisticsDaily",
    "WebhookDelivery",
]
