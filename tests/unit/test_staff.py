"""Staff sign-in: scrypt hashes, signed session cookies (Secure + SameSite=None over HTTPS), the SSO header only
when configured."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from chatbot.config import Settings
from chatbot.staff import COOKIE, StaffAuth, hash_password, verify_password


def request(headers: dict[str, str] | None = None, scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/staff", "headers": raw, "scheme": scheme,
                    "server": ("testserver", 443 if scheme == "https" else 80), "query_string": b""})


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("same password") != hash_password("same password"), "each hash has its own salt"
    assert not verify_password("x", "not-a-hash") and not verify_password("x", "")


def test_a_signed_in_cookie_names_the_user_and_a_forged_one_does_not() -> None:
    auth = StaffAuth(Settings(staff_accounts={"nurse": hash_password("pw-for-nurse")}, session_secret="s" * 32))
    assert auth.check_password("Nurse", "pw-for-nurse") and not auth.check_password("nurse", "wrong")
    assert not auth.check_password("nobody", "pw-for-nurse")
    response = Response()
    auth.sign_in(response, "nurse", request())
    cookie = response.headers["set-cookie"]
    token = cookie.split(";")[0].split("=", 1)[1]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    assert auth.user(request({"cookie": f"{COOKIE}={token}"})) == "nurse"
    assert auth.user(request({"cookie": f"{COOKIE}={token[:-2]}xx"})) is None
    other = StaffAuth(Settings(staff_accounts={"nurse": "x"}, session_secret="t" * 32))
    assert other.user(request({"cookie": f"{COOKIE}={token}"})) is None, "signed with another secret"


def test_over_https_the_cookie_works_inside_an_iframe() -> None:
    auth = StaffAuth(Settings(staff_accounts={"nurse": hash_password("pw-for-nurse")}))
    response = Response()
    auth.sign_in(response, "nurse", request(scheme="https"))
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "samesite=none" in cookie and "httponly" in cookie and "partitioned" in cookie


@pytest.mark.parametrize("header, configured, user", [
    ("alice", "X-Portal-User", "sso:alice"), ("alice", "", None), ("", "X-Portal-User", None)])
def test_the_sso_header_is_honoured_only_when_configured(header: str, configured: str, user) -> None:
    auth = StaffAuth(Settings(staff_sso_header=configured))
    assert auth.user(request({"X-Portal-User": header} if header else {})) == user


def test_csrf_tokens_are_per_user() -> None:
    auth = StaffAuth(Settings(session_secret="s" * 32))
    assert auth.csrf_ok("a", auth.csrf_token("a"))
    assert not auth.csrf_ok("b", auth.csrf_token("a")) and not auth.csrf_ok("a", None)
