"""The generator's SQL: rows are made inside Postgres from generate_series, one chunk per
statement, so no row crosses the wire and the client's CPU stays out of the way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from bench.scale.shape import Service, StaffPlan, Tier

CALENDAR_FACTOR = 168 / 35
"""Calendar hours per working hour (7 working hours a day, 5 days a week): targets are in
working hours; the generator spreads them over the calendar instead of walking holidays."""

DESCRIPTIONS = (
    "أرجو التكرم بإنهاء الطلب في أقرب وقت، وشكراً",
    "تم رفض الخدمة الإلكترونية برسالة خطأ، أرجو المساعدة",
    "Please process my request; the online service failed twice.",
    "المعاملة متوقفة منذ أسبوع، أرجو الإفادة",
    "I uploaded the documents but the status did not change.",
    "أحتاج إلى تحديث البيانات قبل السفر",
)
FILES = (
    ("passport.pdf", "application/pdf"),
    ("iqama.jpg", "image/jpeg"),
    ("photo.png", "image/png"),
    ("receipt.pdf", "application/pdf"),
)


def literal(value: str) -> str:
    """A SQL string literal (catalog codes and our own constants only)."""
    return "'" + value.replace("'", "''") + "'"


def text_array(values: Sequence[str]) -> str:
    """ARRAY['a','b']::text[]."""
    return "ARRAY[" + ",".join(literal(v) for v in values) + "]::text[]"


def int_array(values: Sequence[int]) -> str:
    """ARRAY[1,2]::int[]."""
    return "ARRAY[" + ",".join(str(int(v)) for v in values) + "]::int[]"


KINDS = {"resident": 1, "staff": 2, "request": 3, "document": 4}


def uuid_sql(kind: str, seed: int, number: str) -> str:
    """A v4-shaped UUID that is a pure function of (kind, seed, number), from two 64-bit
    hashes: every table derives the same resident or request ID from the same number without
    a lookup, at a third of md5's cost."""
    salt = (seed * 16 + KINDS[kind]) * 2
    high = f"((hashint8extended(({number})::bigint, {salt}) & ~61440::bigint) | 16384)"
    low = (
        f"((hashint8extended(({number})::bigint, {salt + 1}) & 4611686018427387903)"
        " | (-9223372036854775808))"
    )
    return f"encode(int8send({high}) || int8send({low}), 'hex')::uuid"


def national_id_sql(first: str, serial: str) -> str:
    """First digit, eight serial digits and the Luhn check digit (shape.national_id_digits)."""

    def digit(k: int) -> str:  # k-th of the eight serial digits, most significant first
        return f"(({serial}) / {10 ** (8 - k)} % 10)"

    def doubled(expr: str) -> str:
        return f"({expr} * 2 - 9 * ({expr} / 5))"

    total = " + ".join(
        [doubled(f"({first})")]
        + [doubled(digit(k)) if k % 2 == 0 else digit(k) for k in range(1, 9)]
    )
    return (
        f"(({first})::text || lpad(({serial})::text, 8, '0') || ((10 - ({total}) % 10) % 10)::text)"
    )


def residents_sql(seed: int) -> str:
    """Residents numbered [$1, $2): unique ID, phone and national ID, verified, mostly Arabic.

    $3 password hash, $4 the earliest account time, $5 the latest."""
    serial = "(n * 48271 + 12345) % 100000000"
    return f"""
INSERT INTO residents (id, national_id, phone, password_hash, preferred_language,
                       verified_at, failed_logins, created_at, updated_at)
SELECT {uuid_sql("resident", seed, "n")},
       {national_id_sql("CASE WHEN n % 5 < 3 THEN 1 ELSE 2 END", serial)},
       '+9665' || lpad(((n * 69621 + 7777) % 100000000)::text, 8, '0'),
       $3, CASE WHEN u_lang < 0.15 THEN 'en' ELSE 'ar' END,
       c + interval '2 minutes', 0, c, c + interval '2 minutes'
FROM (SELECT n, random() AS u_lang, $4::timestamptz + random() * ($5::timestamptz - $4) AS c
      FROM generate_series($1::bigint, $2::bigint - 1) AS n) AS d
"""  # noqa: S608 - SQL made of our own constants


def staff_sql(seed: int) -> str:
    """Staff from parallel arrays $1 numbers, $2 usernames, $3 roles; $4 the password hash."""
    return f"""
INSERT INTO staff (id, username, full_name, phone, password_hash, role)
SELECT {uuid_sql("staff", seed, "n")}, username, 'Staff ' || username,
       '+96650' || lpad((n % 10000000)::text, 7, '0'), $4, role
FROM unnest($1::int[], $2::text[], $3::text[]) AS s(n, username, role)
"""  # noqa: S608 - SQL made of our own constants


def staff_ids_sql(seed: int) -> str:
    """The IDs of staff numbers $1 (in that order)."""
    return (
        f"SELECT {uuid_sql('staff', seed, 'n')}"  # noqa: S608 - our own constants
        " FROM unnest($1::int[]) WITH ORDINALITY AS s(n, o) ORDER BY o"
    )


def staff_rows(plans: Sequence[StaffPlan], seed: int) -> list[tuple[int, str, str, str]]:
    """(number, username, role, department) for every officer and supervisor."""
    rows: list[tuple[int, str, str, str]] = []
    for plan in plans:
        for k in range(plan.officers):
            number = plan.officers_first + k
            rows.append((number, f"officer.{plan.department}.{k:04d}", "officer", plan.department))
        for k in range(plan.supervisors):
            number = plan.supervisors_first + k
            rows.append(
                (number, f"supervisor.{plan.department}.{k:03d}", "supervisor", plan.department)
            )
    return rows


def _hours(expr: str) -> str:
    return f"(({expr}) * interval '1 hour')"


def _lognormal_hours(median: float) -> str:
    """A wait drawn from a lognormal distribution (sigma 1) around `median` hours."""
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"  # Box-Muller
    return _hours(f"exp(ln({median}) + {normal})")


def requests_sql(
    *,
    seed: int,
    total: int,
    services: Sequence[Service],
    service_slots: Sequence[int],
    departments: Sequence[str],
    staff: Sequence[StaffPlan],
    officers: Sequence[uuid.UUID],
    tiers: Sequence[Tier],
) -> str:
    """One chunk of requests j in [$1, $2), with their timeline, assignment and documents.

    $3 now, $4 the earliest creation time. Event IDs come from the table's identity, in time
    order within the chunk, as a live system would have numbered them. Every request
    follows the state machine from creation to the stage its age has reached: the stage times
    are drawn first (lognormal waits), and the status is whatever the last stage before `now`
    left it in, so old requests are mostly resolved or closed and recent ones still open."""
    dept_index = {code: i + 1 for i, code in enumerate(departments)}
    svc_dept = int_array([dept_index[s.department] for s in services])
    by_dept = {p.department: p for p in staff}
    officer_first = int_array([by_dept[d].officers_first for d in departments])
    officer_count = int_array([by_dept[d].officers for d in departments])
    heavy, frequent, regular = tiers[0], tiers[1], tiers[2]
    cut_heavy = heavy.requests / total
    cut_frequent = (heavy.requests + frequent.requests) / total
    resident = uuid_sql("resident", seed, "resident_n")
    request = uuid_sql("request", seed, "j")
    document = uuid_sql("document", seed, "j * 2 + dn")
    officer_ids = "ARRAY[" + ",".join(f"'{o}'" for o in officers) + "]::uuid[]"
    files = ",".join(f"({i + 1}, {literal(n)}, {literal(t)})" for i, (n, t) in enumerate(FILES))
    return f"""
WITH x AS (
  SELECT *, resident_id::text AS resident_text, officer_id::text AS officer_text,
         CASE WHEN rate_ok THEN 'closed'
              WHEN fin_ok THEN CASE WHEN rejected THEN 'rejected' ELSE 'resolved' END
              WHEN rp_ok THEN 'in_progress' WHEN ir_ok THEN 'awaiting_resident'
              WHEN cl_ok THEN 'in_progress' WHEN wd_ok THEN 'withdrawn'
              WHEN rt_ok THEN 'routed' WHEN sub_ok THEN 'submitted' ELSE 'draft' END AS status,
         CASE WHEN rate_ok THEN q WHEN fin_ok THEN e WHEN rp_ok THEN p WHEN ir_ok THEN i
              WHEN cl_ok THEN k WHEN wd_ok THEN w WHEN rt_ok THEN r WHEN sub_ok THEN s
              ELSE c END AS updated_at,
         1 + sub_ok::int + rt_ok::int + wd_ok::int + cl_ok::int + ir_ok::int + rp_ok::int
           + fin_ok::int + rate_ok::int AS version,
         CASE WHEN sub_ok THEN 'TW-' || to_char(s AT TIME ZONE 'Asia/Riyadh', 'YYYY') || '-'
              || lpad((j + 1)::text, 8, '0') END AS reference,
         CASE WHEN rt_ok THEN s + {_hours(f"resp_h * {CALENDAR_FACTOR}")} END AS fr_due,
         CASE WHEN rt_ok THEN s + {_hours(f"resp_h * {0.8 * CALENDAR_FACTOR}")} END AS fr_warn,
         CASE WHEN rt_ok THEN s + {_hours(f"res_h * {CALENDAR_FACTOR}")}
              + CASE WHEN rp_ok THEN p - i ELSE interval '0' END END AS res_due,
         CASE WHEN rt_ok THEN s + {_hours(f"res_h * {0.8 * CALENDAR_FACTOR}")}
              + CASE WHEN rp_ok THEN p - i ELSE interval '0' END END AS res_warn,
         CASE WHEN ir_ok THEN i WHEN fin_ok THEN e END AS first_response_at,
         CASE WHEN wd_ok THEN w ELSE $3::timestamptz END AS stop
  FROM (
    -- which stages `now` has reached, who files and who handles it
    SELECT *,
           kind <> 0 AND s <= $3 AS sub_ok,
           kind <> 0 AND r <= $3 AS rt_ok,
           kind = 1 AND w <= $3 AS wd_ok,
           kind = 2 AND k <= $3 AS cl_ok,
           kind = 2 AND has_info AND i <= $3 AS ir_ok,
           kind = 2 AND has_info AND p <= $3 AS rp_ok,
           kind = 2 AND e <= $3 AS fin_ok,
           kind = 2 AND q <= $3 AND NOT rejected AND rated AS rate_ok,
           {request} AS id,
           {resident} AS resident_id,
           ({officer_ids})[({officer_first})[({svc_dept})[svc]]
             + floor(u_officer * ({officer_count})[({svc_dept})[svc]])::int + 1] AS officer_id,
           (ARRAY[{",".join(literal(s.department) for s in services)}])[svc] AS dept,
           (ARRAY[{",".join(literal(s.code) for s in services)}])[svc] AS service,
           ({int_array([s.response_hours for s in services])})[svc] AS resp_h,
           ({int_array([s.resolution_hours for s in services])})[svc] AS res_h
    FROM (
      -- the time each stage would be reached: submit, route, claim (or withdraw), ask for
      -- information and get it (some), resolve or reject, be rated (some)
      SELECT *,
             c + d_sub AS s,
             c + d_sub + d_route AS r,
             c + d_sub + d_route + d_claim AS k,
             c + d_sub + d_route + d_withdraw AS w,
             c + d_sub + d_route + d_claim + d_info AS i,
             c + d_sub + d_route + d_claim + d_info + d_resp AS p,
             c + d_sub + d_route + d_claim + CASE WHEN has_info THEN d_info + d_resp
                                                  ELSE interval '0' END + d_final AS e,
             c + d_sub + d_route + d_claim + CASE WHEN has_info THEN d_info + d_resp
                                                  ELSE interval '0' END + d_final + d_rated AS q,
             CASE WHEN u_tier < {cut_heavy} THEN {heavy.first} + floor(u_res * {heavy.size})
                  WHEN u_tier < {cut_frequent}
                    THEN {frequent.first} + floor(u_res * {frequent.size})
                  ELSE {regular.first} + floor(u_res * {regular.size}) END::bigint AS resident_n
      FROM (
        -- every random draw of the request, once
        SELECT j,
               ({int_array(service_slots)})[1 + floor(random() * {len(service_slots)})::int]
                 AS svc,
               random() AS u_tier, random() AS u_res, random() AS u_officer,
               $4::timestamptz + ($3::timestamptz - $4) * ((j + random()) / {total}) AS c,
               CASE WHEN random() < 0.03 THEN 0 WHEN random() < 0.05 THEN 1 ELSE 2 END AS kind,
               (60 + 1740 * random()) * interval '1 second' AS d_sub,
               (1 + 59 * random()) * interval '1 second' AS d_route,
               {_lognormal_hours(4)} AS d_claim,
               {_lognormal_hours(3)} AS d_withdraw,
               {_lognormal_hours(6)} AS d_info,
               {_lognormal_hours(18)} AS d_resp,
               {_lognormal_hours(16)} AS d_final,
               {_lognormal_hours(10)} AS d_rated,
               random() < 0.15 AS has_info, random() < 0.12 AS rejected,
               random() < 0.35 AS rated,
               (ARRAY[1, 2, 3, 4, 4, 5, 5, 5, 5, 5])[1 + floor(random() * 10)::int] AS score,
               1 + floor(random() * {len(DESCRIPTIONS)})::int AS desc_i,
               CASE WHEN random() < 0.1 THEN 2 WHEN random() < 0.22 THEN 1 ELSE 0 END
                 AS documents
        FROM generate_series($1::bigint, $2::bigint - 1) AS j
      ) AS draws OFFSET 0
    ) AS stages OFFSET 0
  ) AS reached
),
rq AS (
  INSERT INTO requests (id, resident_id, department_code, service_code, description, status,
      reference, version, submitted_at, first_response_due_at, first_response_warn_at,
      resolution_due_at, resolution_warn_at, first_response_at, resolved_at, awaiting_since,
      breached_at, rating, rated_at, created_at, updated_at)
  SELECT id, resident_id, dept, service, ({text_array(DESCRIPTIONS)})[desc_i], status,
         reference, version, CASE WHEN sub_ok THEN s END, fr_due, fr_warn, res_due, res_warn,
         first_response_at, CASE WHEN fin_ok THEN e END,
         CASE WHEN ir_ok AND NOT rp_ok THEN i END,
         CASE WHEN coalesce(first_response_at, stop) > fr_due THEN fr_due
              WHEN coalesce(CASE WHEN fin_ok THEN e END, stop) > res_due THEN res_due END,
         CASE WHEN rate_ok THEN score END, CASE WHEN rate_ok THEN q END, c, updated_at
  FROM x
),
asg AS (
  INSERT INTO request_assignments (request_id, department_code, queue_code, officer_id,
                                   routed_at, assigned_at)
  SELECT id, dept, dept, CASE WHEN cl_ok THEN officer_id END, r,
         CASE WHEN cl_ok THEN k END
  FROM x WHERE rt_ok
  RETURNING 1
),
doc AS (
  INSERT INTO documents (id, request_id, filename, content_type, size_bytes, sha256,
                         storage_key, created_at)
  SELECT doc_id, id, f.name, f.type, 40000 + (j * 7919 + dn * 104729) % 3000000,
         replace(doc_id::text || id::text, '-', ''), 'requests/' || id || '/' || doc_id,
         c + dn * interval '1 second'
  FROM (SELECT {document} AS doc_id, id, j, c, dn
        FROM x CROSS JOIN LATERAL generate_series(1, x.documents) AS dn
        WHERE rt_ok OFFSET 0) AS d
  JOIN (VALUES {files}) AS f(fi, name, type) ON f.fi = 1 + (j + dn) % {len(FILES)}
  RETURNING 1
),
events AS (
INSERT INTO request_events (request_id, type, from_status, to_status, actor_type, actor_id,
                            internal, data, created_at)
SELECT id, type, from_status, to_status, actor, actor_id, false, data, at
FROM (
  SELECT 1 AS step, id, 'created' AS type, NULL AS from_status, 'draft' AS to_status,
         'resident' AS actor, resident_text AS actor_id, '{{}}'::jsonb AS data, c AS at
  FROM x
  UNION ALL
  SELECT 2, id, 'submitted', 'draft', 'submitted', 'resident', resident_text,
         jsonb_build_object('reference', reference), s
  FROM x WHERE sub_ok
  UNION ALL
  SELECT 3, id, 'routed', 'submitted', 'routed', 'system', 'routing',
         jsonb_build_object('queue', dept, 'department_code', dept), r
  FROM x WHERE rt_ok
  UNION ALL
  SELECT 4, id, 'withdrawn', 'routed', 'withdrawn', 'resident', resident_text, '{{}}'::jsonb, w
  FROM x WHERE wd_ok
  UNION ALL
  SELECT 4, id, 'claimed', 'routed', 'in_progress', 'staff', officer_text, '{{}}'::jsonb, k
  FROM x WHERE cl_ok
  UNION ALL
  SELECT 5, id, 'information_requested', 'in_progress', 'awaiting_resident', 'staff',
         officer_text, '{{"message": "يرجى إرفاق صورة جواز السفر"}}'::jsonb, i
  FROM x WHERE ir_ok
  UNION ALL
  SELECT 6, id, 'resident_responded', 'awaiting_resident', 'in_progress', 'resident',
         resident_text, '{{"message": "تم إرفاق المطلوب"}}'::jsonb, p
  FROM x WHERE rp_ok
  UNION ALL
  SELECT 7, id, 'rejected', 'in_progress', 'rejected', 'staff', officer_text,
         '{{"reason": "الطلب غير مستوفٍ للشروط"}}'::jsonb, e
  FROM x WHERE fin_ok AND rejected
  UNION ALL
  SELECT 7, id, 'resolved', 'in_progress', 'resolved', 'staff', officer_text,
         '{{"message": "تمت معالجة طلبكم"}}'::jsonb, e
  FROM x WHERE fin_ok AND NOT rejected
  UNION ALL
  SELECT 8, id, 'rated', 'resolved', 'closed', 'resident', resident_text,
         jsonb_build_object('score', score), q
  FROM x WHERE rate_ok
) AS ev
ORDER BY at, step
RETURNING 1
)
SELECT (SELECT count(*) FROM asg) AS assignments, (SELECT count(*) FROM doc) AS documents,
       (SELECT count(*) FROM events) AS events
"""  # noqa: S608 - SQL made of our own constants and the catalog's codes
