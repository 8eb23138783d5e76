"""Sign-in errors; each says as little as needed about whether an account exists."""

from __future__ import annotations

from shared.errors import AppError, TooManyRequests, Unauthorized


class InvalidCredentials(Unauthorized):
    """Wrong ID or password (we do not say which)."""

    code = "invalid_credentials"
    message_en = "The ID number or password is incorrect."
    message_ar = "رقم الهوية أو كلمة المرور غير صحيحة."


class InvalidCode(AppError):
    """Wrong, expired, used-up or unknown one-time code."""

    status = 400
    code = "invalid_code"
    message_en = "The verification code is incorrect or has expired."
    message_ar = "رمز التحقق غير صحيح أو منتهي الصلاحية."


class InvalidRefreshToken(Unauthorized):
    """The refresh token is unknown, expired, revoked or was already used."""

    code = "invalid_refresh_token"
    message_en = "Your session has ended. Please sign in again."
    message_ar = "انتهت جلستك. يرجى تسجيل الدخول مرة أخرى."


class InvalidAccessToken(Unauthorized):
    """The bearer token is missing, forged, expired or revoked."""

    code = "invalid_token"
    message_en = "Sign-in is required or your session has expired."
    message_ar = "يلزم تسجيل الدخول أو انتهت صلاحية الجلسة."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="tawasul"'})


class AccountLocked(TooManyRequests):
    """Too many failed sign-ins in a row; the account waits before the next try."""

    code = "account_temporarily_locked"
    message_en = "Too many failed attempts. Please wait before trying again."
    message_ar = "محاولات فاشلة كثيرة. يرجى الانتظار قبل المحاولة مرة أخرى."


class WeakPassword(AppError):
    """The new password breaks the rules of gateway/auth/policy.py (`min_length` says how)."""

    status = 422
    code = "weak_password"
    message_en = "The new password is too short. Choose a longer one."
    message_ar = "كلمة المرور الجديدة قصيرة جداً. يرجى اختيار كلمة مرور أطول."


class PasswordUnchanged(AppError):
    """The new password is the current one: nothing would change, yet every session would end."""

    status = 422
    code = "password_unchanged"
    message_en = "The new password must be different from the current one."
    message_ar = "يجب أن تختلف كلمة المرور الجديدة عن الحالية."
