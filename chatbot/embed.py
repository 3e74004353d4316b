"""Embedding in a patient portal: which origins may frame the app (`Content-Security-Policy: frame-ancestors`) and
call the API from a browser (CORS), both from the one `embed_origins` allowlist; and the embed page's look (light
or dark, brand colour, logo) from settings or the iframe's query parameters."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chatbot.config import Settings
from chatbot.errors import ConfigError

_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)"
                     r"(:\d{1,5})?$", re.IGNORECASE)
_COLOR = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$", re.IGNORECASE)


def allowed_origins(settings: Settings) -> tuple[str, ...]:
    """The portal origins from settings, checked: `https://portal.example.org` (scheme, host, optional port)."""
    origins = []
    for origin in settings.embed_origins:
        origin = origin.strip().rstrip("/")
        if not _ORIGIN.match(origin):
            raise ConfigError(f"embed_origins: {origin!r} is not an origin such as https://portal.example.org "
                              "(scheme and host, optional port, no path).")
        origins.append(origin.lower())
    return tuple(dict.fromkeys(origins))


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """The CSP directive: the app itself, plus the allowed portals."""
    return " ".join(["frame-ancestors 'self'", *origins])


class _SecurityHeaders:
    """Pure ASGI middleware (streamed answers pass straight through): sets the CSP on every response."""

    def __init__(self, app, csp: str):
        self.app, self.header = app, (b"content-security-policy", csp.encode("latin-1"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"]
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_origin_policy(app: FastAPI, settings: Settings) -> None:
    """frame-ancestors and CORS from one allowlist. Call before mounting Gradio: a parent app with its own
    CORSMiddleware makes Gradio leave CORS to it."""
    origins = allowed_origins(settings)
    app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "Accept", "Authorization"], max_age=600)
    app.add_middleware(_SecurityHeaders, csp=frame_ancestors(origins))


def brand_color(value: str) -> str:
    return value if _COLOR.match(value or "") else ""


def embed_js(settings: Settings) -> str:
    """Runs when the embed page loads: theme, brand colour and logo from the query (`?theme=dark&brand=%23005a9c
    &logo=/static/logo.png`) or settings. Text on the brand colour is black or white, whichever contrasts more."""
    defaults = json.dumps({"brand": brand_color(settings.brand_color), "logo": settings.brand_logo_url})
    return """() => {
  const defaults = %s;
  const q = new URLSearchParams(window.location.search);
  const theme = q.get('theme');
  if (theme === 'dark' || (theme === 'auto' && window.matchMedia('(prefers-color-scheme: dark)').matches)) {
    document.body.classList.add('dark');
  }
  const pick = (v) => /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(v || '') ? v : '';
  const brand = pick(q.get('brand')) || defaults.brand;
  if (brand) {
    const hex = brand.length === 4 ? '#' + [...brand.slice(1)].map((c) => c + c).join('') : brand;
    const lin = (i) => { const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const L = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
    const text = (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? '#000000' : '#ffffff';
    const root = document.documentElement;
    root.style.setProperty('--brand-bg', hex);
    root.style.setProperty('--brand-text', text);
  }
  // a logo from the query must be on this app's own origin (a path); settings may name any https address
  const sameOrigin = (v) => /^\\/[^\\/\\\\]/.test(v || '');
  const logo = sameOrigin(q.get('logo')) ? q.get('logo') : defaults.logo;
  const box = document.getElementById('brand-logo');
  if (logo && box && (/^https:\\/\\//.test(logo) || sameOrigin(logo))) {
    const img = document.createElement('img');
    img.src = logo; img.alt = q.get('logo_alt') || ''; img.style.maxHeight = '40px';
    box.replaceChildren(img);
  }
}""" % defaults
