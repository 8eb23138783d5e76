"""How many one-time codes may be sent: per client address, phone, account, and in all.

Every code is an SMS we pay for and a message someone receives, so sending one is capped
(numbers.md, checklist #23): per client IP and per phone number per hour; per login ID per
hour and per day, which also stops one ID being used to text many numbers; and a global
hourly budget. Past 40 % of the budget (2× a normal peak, when the budget is set at 5×) an
alert is logged; past the budget every code request answers 503 "try later" until the hour
turns, whoever asks: a breaker against SMS pumping that no per-caller limit can see.
"""

from __future__ import annotations

import structlog
from fastapi import Request

from gateway.deps import GatewayState, client_ip
from gateway.ratelimit import Limit
from shared.errors import AppError

log = structlog.get_logger()
HOUR = 3600
DAY = 24 * HOUR
ALERT_SHARE = 0.4


class CodeBudgetExhausted(AppError):
    """The hourly SMS budget for one-time codes is spent."""

    status = 503
    code = "sms_budget_exhausted"
    message_en = "We cannot send verification codes right now. Please try again later."
    message_ar = "لا يمكننا إرسال رموز التحقق الآن. يرجى المحاولة لاحقاً."


async def limit_code_sends(state: GatewayState, request: Request, phone: str, login: str) -> None:
    """Count one code to `phone` for the login ID `login`; 429 or 503 past a cap."""
    settings = state.settings
    limiter = state.limiter
    ip = client_ip(request, settings.trusted_proxy_hops)
    await limiter.hit(
        "otp-ip", ip, Limit(settings.otp_sends_per_ip_per_hour, HOUR), fail_closed=True
    )
    await limiter.hit(
        "otp-phone", phone, Limit(settings.otp_sends_per_phone_per_hour, HOUR), fail_closed=True
    )
    await limiter.hit(
        "otp-login", login, Limit(settings.otp_sends_per_login_per_hour, HOUR), fail_closed=True
    )
    await limiter.hit(
        "otp-login-day", login, Limit(settings.otp_sends_per_login_per_day, DAY), fail_closed=True
    )
    budget = settings.otp_sms_budget_per_hour
    count, seconds_left = await limiter.count("otp-total", "all", HOUR)
    if count == int(budget * ALERT_SHARE) + 1:
        log.error("auth.sms_budget_alert", sent_this_hour=count, budget=budget)
    if count > budget:
        if count == budget + 1:
            log.error("auth.sms_budget_exhausted", budget=budget)
        retry = max(seconds_left, 1)
        raise CodeBudgetExhausted(headers={"Retry-After": str(retry)}, extra={"retry_after": retry})
