"""Every page of the dashboard, as a reader without JavaScript and a keyboard user meet it:
it reads (200, no inline script: the only scripts are the package's own files), every field
has a label, every form that acts carries the session's CSRF token, and an error page leads
back to the section it came from."""

from __future__ import annotations

import re

import pytest

from dain.data import format_asset_id
from dain.web import PREFIX
from tests.web.conftest import OwnerNet, client_for, log_in
from tests.web.html import read


def _pages(n: OwnerNet) -> list[str]:
    used = format_asset_id(n.used)
    return [
        "/data", f"/data/{used}/terms", f"/data/{used}/revoke",
        "/jobs", f"/jobs/{n.running_job}", f"/jobs/{n.done_job}",
        "/governance",
        "/audit", f"/audit/asset/{used}", f"/audit/job/{n.done_job}",
        f"/audit/member/{n.hospital.address}",
    ]  # fmt: skip


def test_every_page_reads_without_script_and_its_forms_are_labelled(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    for path in _pages(shared):
        answer = client.get(PREFIX + path)
        page = read(answer.text)

        assert answer.status_code == 200, path
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", answer.text)
        assert inline == [], path  # the CSP would block them anyway: none may be needed
        assert "unsafe" not in answer.headers["content-security-policy"]
        for form in page.forms:
            fields = [i for i in form.inputs if i.get("type") not in ("hidden", "submit")]
            assert all(i.get("id") in page.labels for i in fields), (path, form)
            if form.method == "post":
                assert form.buttons and any(i.get("name") == "csrf" for i in form.inputs), path


@pytest.mark.parametrize(
    ("path", "section"),
    [("/data/0x12/terms", "My data"), ("/jobs/999", "Jobs"), ("/governance/12x", "Governance"),
     ("/audit/job/999", "Audit")],
)  # fmt: skip
def test_an_error_page_leads_back_to_its_section(shared: OwnerNet, path: str, section: str) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    answer = client.get(PREFIX + path)

    assert answer.status_code in (400, 404), path
    assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    assert f">Back to {section}</a>" in answer.text
