"""How our catalog and requests read in GeoReport v2 terms, and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import Request

from gateway.open311.render import Lang
from shared.db.catalog import Department, ServiceType
from shared.request_status import Status

RIYADH = timezone(timedelta(hours=3))  # Saudi Arabia keeps UTC+3 all year.

# Open311 knows two states; `status_notes` carries ours in words.
CLOSED = frozenset({Status.resolved, Status.rejected, Status.withdrawn, Status.closed})

# The attribute that names the resident (their mobile comes in the standard `phone` field).
NATIONAL_ID = "national_id"
DOCUMENT_PREFIX = "document_"


def language(request: Request) -> Lang:
    """`lang=en|ar`, else the first of those in Accept-Language; Arabic by default."""
    asked = request.query_params.get("lang", "").strip().lower()
    if asked in ("ar", "en"):
        return "en" if asked == "en" else "ar"
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, tag.strip().lower()[:2]))
    for _, tag in sorted(ranked, key=lambda entry: entry[0]):
        if tag in ("ar", "en"):
            return "en" if tag == "en" else "ar"
    return "ar"


def w3c(moment: datetime | str) -> str:
    """W3C/ISO-8601 with the offset, in Riyadh time, to the second."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(RIYADH).replace(microsecond=0).isoformat()


def open_or_closed(status: str) -> str:
    """`closed` once the request is finished (resolved, rejected, withdrawn, closed)."""
    return "closed" if status in CLOSED else "open"


def service_code(department_code: str, code: str) -> str:
    """Our service's Open311 code: `<department>.<service>`."""
    return f"{department_code}.{code}"


def split_service_code(code: str) -> tuple[str, str] | None:
    """(department, service) of an Open311 code, or None when it has no such shape."""
    department, dot, service = code.partition(".")
    return (department, service) if dot and department and service else None


def _named(record: Any, lang: Lang) -> str:
    return str(record.name_en if lang == "en" else record.name_ar)


def service_entry(department: Department, service: ServiceType, lang: Lang) -> dict[str, object]:
    """One `service` of the service list."""
    description = service.description_en if lang == "en" else service.description_ar
    return {
        "service_code": service_code(department.code, service.code),
        "service_name": _named(service, lang),
        "description": description or _named(service, lang),
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": _named(department, lang),
    }


def _attribute(
    code: str, order: int, *, variable: bool, required: bool, kind: str, description: str
) -> dict[str, object]:
    return {
        "variable": variable,
        "code": code,
        "datatype": "string",
        "required": required,
        "datatype_description": kind,
        "order": order,
        "description": description,
        "values": [],
    }


def service_definition(
    department: Department, service: ServiceType, lang: Lang
) -> dict[str, object]:
    """The definition: who the resident is, then the documents the department may ask for."""
    english = lang == "en"
    attributes = [
        _attribute(
            NATIONAL_ID,
            1,
            variable=True,
            required=True,
            kind=(
                "10 digits: a national ID starts with 1, an iqama number with 2."
                if english
                else "10 أرقام: تبدأ الهوية الوطنية بالرقم 1 وهوية مقيم بالرقم 2."
            ),
            description=(
                "National ID or iqama number of the resident. Send the mobile number "
                "registered with it in the standard `phone` field (required)."
                if english
                else "رقم الهوية الوطنية أو هوية مقيم للمستفيد. أرسل رقم الجوال المسجل بها "
                "في الحقل القياسي `phone` (إلزامي)."
            ),
        )
    ]
    for order, document in enumerate(service.required_documents, start=2):
        name = document["name_en"] if english else document["name_ar"]
        attributes.append(
            _attribute(
                DOCUMENT_PREFIX + str(document["code"]),
                order,
                variable=False,
                required=False,
                kind="",
                description=(
                    f"Supporting document the department may ask the resident for: {name}."
                    if english
                    else f"مستند قد تطلبه الإدارة من المستفيد: {name}."
                ),
            )
        )
    return {"service_code": service_code(department.code, service.code), "attributes": attributes}


def request_entry(detail: dict[str, Any], lang: Lang) -> dict[str, object]:
    """One `request` of GET requests from intake's RequestOut (submitted, so it has a reference)."""
    department = detail["department"]
    service = detail["service"]
    return {
        "service_request_id": detail["reference"],
        "status": open_or_closed(detail["status"]),
        "status_notes": detail["status_label"]["en"],
        "service_name": service["name_en"] if lang == "en" else service["name_ar"],
        "service_code": service_code(department["code"], service["code"]),
        "description": detail["description"],
        "agency_responsible": department["name_en"],
        "requested_datetime": w3c(detail["submitted_at"] or detail["created_at"]),
        "updated_datetime": w3c(detail["updated_at"]),
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": "",
        "long": "",
        "media_url": "",
    }


def service_notice(detail: dict[str, Any], lang: Lang) -> str:
    """What happens next, for the answer to POST requests."""
    hours = detail["service"]["response_time_hours"]
    if lang == "en":
        return (
            f"Received as {detail['reference']}. The department answers within {hours} working "
            "hours; the resident is told by SMS."
        )
    return (
        f"تم استلام الطلب برقم {detail['reference']}. ترد الإدارة خلال {hours} ساعة عمل، "
        "ويُبلغ المستفيد برسالة نصية."
    )
