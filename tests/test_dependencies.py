"""Known advisories: `pip-audit` over the installed environment, and the pinned web-facing packages checked on
PyPI's JSON API. Needs PyPI; skipped (with the reason) when it cannot be reached at all.

Where PyPI's per-release endpoint (`/pypi/<name>/<version>/json`, what pip-audit asks) does not answer, pip-audit
reports every package as "could not be audited" and finds nothing; the second test then asks the project endpoint
(`/pypi/<name>/json`), whose `vulnerabilities` are those of the latest release: a pin must be that release and have
none, or be audited by pip-audit itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPI = "https://pypi.org/pypi"


def _pypi_reachable() -> bool:
    try:
        return httpx.get(f"{PYPI}/pip/json", timeout=15).status_code == 200
    except httpx.HTTPError:
        return False


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _pypi_reachable(), reason="PyPI's JSON API cannot be reached from here")]


@pytest.fixture(scope="module")
def audit() -> dict:
    done = subprocess.run([sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off",
                           "-f", "json"], capture_output=True, text=True, timeout=600)
    assert done.stdout.strip(), done.stderr[-2000:]
    return json.loads(done.stdout)


def test_pip_audit_finds_no_known_advisory(audit: dict) -> None:
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in audit["dependencies"] if d.get("vulns")}
    assert vulnerable == {}, f"upgrade these pins: {vulnerable}"


def pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for spec in project["dependencies"]:
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^;,\s]+)", spec)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_every_pin_is_audited_and_free_of_advisories(audit: dict) -> None:
    audited = {d["name"].lower() for d in audit["dependencies"] if "skip_reason" not in d}
    assert "gradio" in pins()
    unaudited = []
    for name, version in pins().items():
        if name in audited:
            continue
        data = httpx.get(f"{PYPI}/{name}/json", timeout=30).json()
        if data["info"]["version"] != version:
            unaudited.append(f"{name}=={version} (latest {data['info']['version']})")
            continue
        advisories = [v.get("id") for v in data.get("vulnerabilities") or []]
        assert advisories == [], f"{name}=={version} has advisories {advisories}: upgrade the pin"
    assert "gradio" not in " ".join(unaudited), unaudited  # the web-facing pin is always checked
