"""The "My data" page: the node's assets with their consent terms, every use of each and
what each earned; changing the terms, granting consent again and revoking it (each after a
page saying what it does), and claiming earnings. Chain calls block, so they run in worker
threads, as the node's API does."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dain.data import format_asset_id
from dain.errors import ConfigError, DainError
from dain.ledger import format_dain
from dain.web.consent_form import TermsForm, consequences
from dain.web.login import must_log_in
from dain.web.owner_view import earnings, my_data, owned_assets, policy_terms, running_jobs
from dain.web.site import Page, Site

if TYPE_CHECKING:
    from dain.data import ConsentPolicy
    from dain.ledger import OnChainPolicy

PAGE = Page("/data", "My data")


def router(site: Site) -> APIRouter:
    routes = APIRouter()
    node = site.node
    site.pages.append(PAGE)

    @routes.get(PAGE.path, include_in_schema=False)
    async def page(request: Request) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            assets = await run_in_threadpool(my_data, node)
        except DainError as exc:
            return site.error(request, exc)
        claimable = any(e.can_claim for a in assets for e in a.earnings)
        return site.render(request, "my_data.html", assets=assets, claimable=claimable,
                           dain=format_dain)  # fmt: skip

    @routes.get("/data/{asset}/revoke", include_in_schema=False)
    async def confirm_revoke(request: Request, asset: str) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            asset_id = await run_in_threadpool(_own_asset, site, asset)
            policy = await run_in_threadpool(node.ledger.assets.policy, asset_id)
            jobs = await run_in_threadpool(running_jobs, node.ledger, asset_id)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return site.render(request, "revoke.html", asset=format_asset_id(asset_id),
                           policy=policy, jobs=jobs)  # fmt: skip

    @routes.post("/data/{asset}/revoke", include_in_schema=False)
    async def revoke(request: Request, asset: str) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        try:
            asset_id, block, jobs = await run_in_threadpool(_revoke, site, asset)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return site.render(request, "done.html", title="Consent revoked", lines=[
            f"Consent for {format_asset_id(asset_id)} revoked from block {block} on.",
            *(f"Job {job}: its rounds after round {now} leave this asset out."
              for job, now, _ in jobs),
        ])  # fmt: skip

    @routes.get("/data/{asset}/terms", include_in_schema=False)
    async def terms_form(request: Request, asset: str) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            asset_id, current = await run_in_threadpool(_current_terms, site, asset)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return _terms_page(site, request, asset_id, current, TermsForm.of(current.policy))

    @routes.post("/data/{asset}/terms", include_in_schema=False)
    async def set_terms(request: Request, asset: str) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        try:
            asset_id, current = await run_in_threadpool(_current_terms, site, asset)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        fields = TermsForm.read(form)
        if form.get("step") == "edit":  # back from the review, with what was typed
            return _terms_page(site, request, asset_id, current, fields)
        try:  # a mistake shows the form again, with what was typed and what to fix
            now = await run_in_threadpool(node.ledger.now)
            policy = fields.policy(now)
            if form.get("step") != "confirm":
                said = await run_in_threadpool(consequences, node.ledger, asset_id, policy, now)
                return site.render(
                    request, "terms_review.html", asset=format_asset_id(asset_id),
                    changes=_changes(current.policy, policy), granting=current.revoked,
                    said=said, fields=fields.hidden(), version=current.version + 1,
                )  # fmt: skip
            version = await run_in_threadpool(node.set_policy, asset_id, policy)
        except DainError as exc:
            return _terms_page(site, request, asset_id, current, fields, exc)
        return site.render(request, "done.html", title="Consent terms set", lines=[
            f"Asset {format_asset_id(asset_id)} now follows policy version {version}.",
            "Rounds from now on are checked against these terms, by the chain and by this node.",
        ])  # fmt: skip

    @routes.post("/data/claim", include_in_schema=False)
    async def claim(request: Request) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        try:
            paid = await run_in_threadpool(_claim, site)
        except DainError as exc:
            return site.error(request, exc)
        lines = [f"Job {job}, asset {format_asset_id(asset)}: {format_dain(amount)}"
                 for job, asset, amount in paid]  # fmt: skip
        lines.append(f"Claimed {format_dain(sum(p[2] for p in paid))} in all." if paid
                     else "Nothing to claim now.")  # fmt: skip
        return site.render(request, "done.html", title="Earnings claimed", lines=lines)

    return routes


def _own_asset(site: Site, text: str) -> int:
    """One of the node's assets by its id as the page writes it (0x and 64 hex digits)."""
    digits = text.lower().removeprefix("0x")
    mine = owned_assets(site.node)
    hexadecimal = len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)
    if hexadecimal and (asset_id := int(digits, 16)) in mine:
        return asset_id
    raise NotMine(f"This node holds no asset {text[:80]}.",
                  hint=f"Its assets are listed on {site.url(PAGE.path)}.")  # fmt: skip


def _revoke(site: Site, text: str) -> tuple[int, int, list[tuple[int, int, int]]]:
    asset_id = _own_asset(site, text)
    ledger = site.node.ledger
    if ledger.assets.policy(asset_id).revoked:
        raise ConfigError(f"Consent for asset {format_asset_id(asset_id)} is already revoked.",
                          hint="Nothing to do; 'dain consent grant' consents again.")  # fmt: skip
    jobs = running_jobs(ledger, asset_id)
    return asset_id, site.node.revoke(asset_id), jobs


def _current_terms(site: Site, text: str) -> tuple[int, OnChainPolicy]:
    """The asset's terms as the chain holds them, with the owner's words from the node's
    own copy (the chain keeps only the document's content id)."""
    asset_id = _own_asset(site, text)
    current = site.node.ledger.assets.policy(asset_id)
    local = site.node.assets.get(asset_id)
    if local is not None:
        current = replace(current, policy=replace(current.policy,
                                                  statement=local.policy.statement))  # fmt: skip
    return asset_id, current


def _terms_page(site: Site, request: Request, asset_id: int, current: OnChainPolicy,
                fields: TermsForm, problem: DainError | None = None) -> Response:  # fmt: skip
    return site.render(request, "terms.html", 400 if problem else 200,
                       asset=format_asset_id(asset_id), granting=current.revoked, form=fields,
                       message=problem.message if problem else None,
                       hint=problem.hint if problem else None)  # fmt: skip


def _changes(before: ConsentPolicy, after: ConsentPolicy) -> list[tuple[str, str, str]]:
    """(term, before, after) of each term the new policy changes."""
    old = dict([*policy_terms(before), ("your statement", before.statement or "-")])
    new = dict([*policy_terms(after), ("your statement", after.statement or "-")])
    return [(name, old[name], value) for name, value in new.items() if old[name] != value]


def _claim(site: Site) -> list[tuple[int, int, int]]:
    """Claims everything the node's assets can claim, as `dain rewards claim` does."""
    ledger = site.node.ledger
    due = [e for e in earnings(ledger, owned_assets(site.node)) if e.can_claim]
    return [(e.job_id, e.asset_id, ledger.jobs.claim(e.job_id, e.asset_id)) for e in due]


class NotMine(ConfigError):
    """An asset id in a URL that is not one of the node's assets."""


def _status(exc: DainError) -> int:
    return 404 if isinstance(exc, NotMine) else 400
