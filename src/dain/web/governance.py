"""The "Governance" page: every proposal with what it does, its tally and quorum and this
node's stake in it; voting (for, against, abstain) on open ones, queuing and executing
passed ones, and delegating the node's votes. Each action is checked as `dain gov` checks
it, and its outcome is read back from the chain. Chain calls block, so they run in worker
threads, as the node's API does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dain.errors import ConfigError, DainError
from dain.identity import parse_address
from dain.ledger import Vote, check_vote_weight, format_dain, votes_text
from dain.web.governance_view import (
    NoSuchProposal,
    ProposalView,
    can_execute,
    delegation,
    find_proposal,
    governance,
    parse_proposal_id,
    proposal_view,
)
from dain.web.login import must_log_in
from dain.web.site import Page, Site

PAGE = Page("/governance", "Governance")
DELEGATION_RULE = (
    "A proposal weighs each vote by what was delegated to the voter at its snapshot block, "
    "so a delegation counts for proposals whose snapshot is later, not for those already open."
)

ON_THIS_PAGE = "On the Governance page, 'Your votes' delegates your tokens with one click."


def router(site: Site) -> APIRouter:
    routes = APIRouter()
    ledger = site.node.ledger
    site.pages.append(PAGE)

    def show(request: Request, status: int = 200, **notice: object) -> Response:
        return site.render(request, "governance.html", status, dain=format_dain,
                           votes=votes_text, rule=DELEGATION_RULE, **notice)  # fmt: skip

    @routes.get(PAGE.path, include_in_schema=False)
    async def page(request: Request) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            proposals, delegated = await run_in_threadpool(governance, ledger)
        except DainError as exc:
            return site.error(request, exc)
        return show(request, proposals=proposals, delegation=delegated)

    @routes.get(PAGE.path + "/{proposal_id}", include_in_schema=False)
    async def one(request: Request, proposal_id: str) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            view, delegated = await run_in_threadpool(_one, site, proposal_id)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return _render_one(site, request, view, delegated)

    @routes.post(PAGE.path + "/delegate", include_in_schema=False)
    async def delegate(request: Request) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        try:
            done = await run_in_threadpool(_delegate, site, form.get("to", ""))
            proposals, delegated = await run_in_threadpool(governance, ledger)
        except DainError as exc:
            return site.error(request, exc)
        return show(request, proposals=proposals, delegation=delegated, done=done)

    @routes.post(PAGE.path + "/{proposal_id}/{act}", include_in_schema=False)
    async def act(request: Request, proposal_id: str, act: str) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        acts = {"vote": _vote, "queue": _queue, "execute": _execute}
        if act not in acts:
            unknown = ConfigError(
                f"No action '{act[:40]}' on a proposal.",
                hint="A proposal can be voted on, queued or executed.",
            )
            return site.error(request, unknown, 404)
        try:
            done = await run_in_threadpool(acts[act], site, proposal_id, form)
            view, delegated = await run_in_threadpool(_one, site, proposal_id)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return _render_one(site, request, view, delegated, done=done)

    return routes


def _render_one(site: Site, request: Request, view: tuple[ProposalView, bool],
                delegated: object, **notice: object) -> Response:  # fmt: skip
    proposal, executable = view
    return site.render(request, "governance_proposal.html", p=proposal, executable=executable,
                       delegation=delegated, dain=format_dain, votes=votes_text,
                       rule=DELEGATION_RULE, **notice)  # fmt: skip


def _one(site: Site, text: str) -> tuple[tuple[ProposalView, bool], object]:
    ledger = site.node.ledger
    view = proposal_view(ledger, find_proposal(ledger, parse_proposal_id(text)))
    return (view, can_execute(ledger, view)), delegation(ledger)


def _vote(site: Site, text: str, form: dict[str, str]) -> list[str]:
    """As `dain gov vote` does it (without --anyway): a vote that would count 0 is refused
    before it is sent; the governor refuses a second vote or one on a closed proposal."""
    choice = form.get("choice", "")
    try:
        support = Vote[choice.upper()]
    except KeyError:
        raise ConfigError(f"'{choice[:40]}' is not a vote.",
                          hint="Vote for, against or abstain.") from None  # fmt: skip
    ledger = site.node.ledger
    proposal = find_proposal(ledger, parse_proposal_id(text))
    try:
        check_vote_weight(ledger, proposal, force="")
    except ConfigError as exc:  # the same refusal as the CLI's, with this page's way out
        raise ConfigError(exc.message, hint=f"{exc.hint} {ON_THIS_PAGE}") from None
    ledger.gov.vote(proposal, support)
    weight = next(v.weight for v in ledger.gov.votes_cast(ledger.address)
                  if v.proposal_id == proposal.proposal_id)  # fmt: skip
    return [f"You voted {support.name.lower()} with {votes_text(weight)}. A vote is final: "
            "it cannot be changed or cast again. The tally below is the chain's."]  # fmt: skip


def _queue(site: Site, text: str, form: dict[str, str]) -> list[str]:
    """As `dain gov queue`: a proposal that passed goes into the timelock."""
    ledger = site.node.ledger
    proposal = find_proposal(ledger, parse_proposal_id(text))
    ledger.gov.queue(proposal)
    delay = ledger.gov.timelock_delay()
    return [
        f"Queued in the timelock. Anyone may execute it once its delay of {delay} s has passed "
        "(the time is shown below); until then nothing it does has happened."
    ]


def _execute(site: Site, text: str, form: dict[str, str]) -> list[str]:
    """As `dain gov execute`: carries out a queued proposal whose delay has passed."""
    ledger = site.node.ledger
    proposal = find_proposal(ledger, parse_proposal_id(text))
    ledger.gov.execute(proposal)
    return [f"Executed at block {ledger.block_number()}: what it does (listed below) is now "
            "in force on the chain."]  # fmt: skip


def _delegate(site: Site, text: str) -> list[str]:
    """As `dain gov delegate`: an empty field delegates to this node itself."""
    text = text.strip()
    to = parse_address(text, "an address to delegate to") if text else None
    ledger = site.node.ledger
    ledger.token.delegate(to)
    target = to or ledger.address
    votes = ledger.token.votes(target)
    since = ledger.block_number()
    who = "You now vote" if target == ledger.address else f"{target} now votes"
    return [
        f"{who} with {votes_text(votes)} (your tokens included), for proposals whose snapshot "
        f"is block {since} or later (those made from now on). Proposals already open still "
        "weigh the votes as they stood at their snapshot."
    ]


def _status(exc: DainError) -> int:
    return 404 if isinstance(exc, NoSuchProposal) else 400
