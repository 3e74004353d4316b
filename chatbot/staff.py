"""Staff sign-in for the console: accounts from settings with scrypt password hashes, or a header that the hosting
portal's single sign-on sets (honoured only when its name is configured). Sessions are a signed cookie: HttpOnly
always; Secure and SameSite=None over HTTPS, so the console also works inside a portal's iframe."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from chatbot.config import Settings

COOKIE = "chatbot_staff"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` (hex): what `chatbot staff-password` prints for the staff_accounts setting."""
    if not password:
        raise ValueError("The password must not be empty.")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


class StaffAuth:
    def __init__(self, settings: Settings):
        self.accounts = dict(settings.staff_accounts)
        self.sso_header = settings.staff_sso_header.strip().lower()
        self.max_age = int(settings.session_hours * 3600)
        self._secret = settings.session_secret or secrets.token_hex(32)  # random: sessions end with the process
        self._signer = URLSafeTimedSerializer(self._secret, salt="chatbot-staff-session")

    @property
    def configured(self) -> bool:
        return bool(self.accounts or self.sso_header)

    def check_password(self, name: str, password: str) -> bool:
        stored = self.accounts.get(name.strip().lower())
        if stored is None:
            verify_password(password, hash_password("timing"))  # same work for unknown names
            return False
        return verify_password(password, stored)

    def user(self, request: Request) -> str | None:
        """The signed-in staff member, or None."""
        if self.sso_header:
            name = request.headers.get(self.sso_header, "").strip()
            if name:
                return f"sso:{name[:80]}"
        token = request.cookies.get(COOKIE)
        if not token or not self.accounts:
            return None
        try:
            name = self._signer.loads(token, max_age=self.max_age)
        except BadSignature:
            return None
        return name if name in self.accounts else None

    def sign_in(self, response: Response, name: str, request: Request) -> None:
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, self._signer.dumps(name.strip().lower()), max_age=self.max_age, path="/staff",
                            httponly=True, secure=secure, samesite="none" if secure else "lax")
        if secure:  # CHIPS: browsers that block third-party cookies still keep this one for the portal's frame
            _partition_last_cookie(response)

    def sign_out(self, response: Response, request: Request) -> None:
        secure = request.url.scheme == "https"
        response.delete_cookie(COOKIE, path="/staff", httponly=True, secure=secure,
                               samesite="none" if secure else "lax")

    def csrf_token(self, user: str) -> str:
        """A token each console form carries: a cookie sent from another site's page cannot supply it."""
        return hmac.new(self._secret.encode(), f"csrf:{user}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, user: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(user), token)


def _partition_last_cookie(response: Response) -> None:
    """Add `Partitioned` to the cookie just set (Starlette does it itself only on Python 3.14+)."""
    for i in range(len(response.raw_headers) - 1, -1, -1):
        name, value = response.raw_headers[i]
        if name == b"set-cookie":
            response.raw_headers[i] = (name, value + b"; Partitioned")
            return
