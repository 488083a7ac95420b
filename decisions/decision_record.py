"""A decision as a Markdown decision record (MADR-style)."""

from django.urls import reverse


def _bullets(items) -> list[str]:
    return [f"  * {item}" for item in items]


def decision_record_markdown(decision, *, base_url: str = "") -> str:
    chosen = decision.option(decision.selected_option) if decision.selected_option else None
    lines = [
        f"# {decision.title}",
        "",
        f"* Status: {decision.state}",
        f"* Project: {decision.project.name}",
        f"* Deciders: {decision.decided_by.get_full_name() if decision.decided_by else '—'}",
        f"* Date: {decision.decided_at:%Y-%m-%d}" if decision.decided_at else f"* Date: {decision.created_at:%Y-%m-%d} (created)",
    ]
    if reviewers := list(decision.reviewers.order_by("email")):
        standing = decision.standing_verdicts()
        said = {"approve": "approved", "object": "objected", "abstain": "abstained"}
        lines.append("* Consulted: " + ", ".join(
            f"{person.email} ({said[standing[person.pk].verdict] if person.pk in standing else 'awaited'})"
            for person in reviewers) + (f"; {decision.required_approvals} approval(s) required"
                                        if decision.required_approvals else ""))
    if decision.tags:
        lines.append(f"* Tags: {', '.join(decision.tags)}")
    if decision.review_by:
        lines.append(f"* Review by: {decision.review_by:%Y-%m-%d}")
    lines += ["", "## Context and Problem Statement", "", decision.context or "_No context recorded._", ""]
    if decision.question:
        lines += [f"**Question:** {decision.question}", ""]
    lines += ["## Considered Options", ""]
    lines += [f"* {o['label']} (`{o['id']}`)" for o in decision.options] or ["_No options yet._"]
    lines += ["", "## Decision Outcome", ""]
    if chosen:
        lines += [f"Chosen option: \"{chosen['label']}\" (`{chosen['id']}`), because {decision.rationale or 'no rationale was recorded'}.", ""]
    else:
        lines += ["_Not decided yet._", ""]
    if decision.options:
        lines += ["## Pros and Cons of the Options", ""]
        for option in decision.options:
            lines += [f"### {option['label']}", ""]
            if option.get("description"):
                lines += [option["description"], ""]
            lines += [f"* Good, because {pro}" for pro in option.get("pros", [])]
            lines += [f"* Bad, because {con}" for con in option.get("cons", [])]
            lines.append("")
    links = []
    if decision.supersedes_id:
        links.append(f"* Supersedes [{decision.supersedes.title}]({base_url}{reverse('api:decision-record-md', args=[decision.supersedes_id])})")
    for newer in decision.superseded_by.all():
        links.append(f"* Superseded by [{newer.title}]({base_url}{reverse('api:decision-record-md', args=[newer.pk])})")
    for related in decision.related_decisions.all():
        links.append(f"* Related: [{related.title}]({base_url}{reverse('api:decision-record-md', args=[related.pk])})")
    if links:
        lines += ["## Links", "", *links, ""]
    return "\n".join(lines).rstrip() + "\n"
