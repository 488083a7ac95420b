"""Every write to comments: create, edit and delete by their author, hide and show by an operator."""

import re

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.access import can_be_mentioned, can_comment, can_edit_comment, can_hide_comments
from core.errors import InvalidInput, require
from core.markdown import render_markdown
from core.recording import audited_write

from .models import BODY_MAX_LENGTH, Comment

# @handle: 2–40 lowercase letters, digits or '-', not inside a word or an email address (a@b.c).
MENTION = re.compile(r"(?<![\w@.])@([a-z0-9][a-z0-9-]{1,39})(?![\w-])", re.IGNORECASE)
MAX_MENTIONS = 50
MESSAGE_WRITE = "Only the owner, members or an operator can comment in this project; viewers read."
MESSAGE_EDIT = "Only its author can change this comment."
MESSAGE_HIDE = "Only an operator can hide or show a comment."


def _clean_body(body) -> str:
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("A comment needs some text.", field="body")
    if len(body) > BODY_MAX_LENGTH:
        raise InvalidInput(f"A comment is at most {BODY_MAX_LENGTH} characters (this one has {len(body)}).", field="body")
    if "\x00" in body:
        raise InvalidInput("A comment must not contain NUL characters.", field="body")
    return body


def mentioned_handles(body: str) -> list[str]:
    """The @handles in `body`, lowercased, in order, each once (at most MAX_MENTIONS)."""
    return list(dict.fromkeys(name.lower() for name in MENTION.findall(body)))[:MAX_MENTIONS]


def resolve_mentions(project, body: str) -> tuple[list, list[str]]:
    """(people on the project's team the body mentions, the handles that reach nobody there)."""
    handles = mentioned_handles(body)
    found = get_user_model().objects.resolve_handles(handles) if handles else {}
    people = [found[handle] for handle in handles if handle in found and can_be_mentioned(project, found[handle])]
    reached = {person.handle for person in people}
    return people, [handle for handle in handles if handle not in reached]


def comment_create(*, actor, project, body: str, decision=None) -> Comment:
    """A comment on `project`, or on `decision` (one of its decisions) when given."""
    if decision is not None and decision.project_id != project.pk:
        raise InvalidInput("The decision belongs to another project.", field="decision")
    require(can_comment(project, actor), actor=actor, obj=decision or project, action="comment_create",
            message=MESSAGE_WRITE)
    body = _clean_body(body)
    people, unresolved = resolve_mentions(project, body)
    with audited_write(actor):
        comment = Comment(project=project, decision=decision, author=actor, body=body, body_html=render_markdown(body),
                          unresolved_mentions=unresolved)
        comment.save()
        if people:
            comment.mentions.set(people)
    return comment


def comment_update(*, comment: Comment, actor, body: str) -> Comment:
    """The author rewrites the body; the audit row keeps the text it replaced."""
    require(can_edit_comment(comment, actor), actor=actor, obj=comment, action="update", message=MESSAGE_EDIT)
    body = _clean_body(body)
    if body == comment.body:
        return comment
    people, unresolved = resolve_mentions(comment.project, body)
    with audited_write(actor):
        comment.body = body
        comment.body_html = render_markdown(body)
        comment.unresolved_mentions = unresolved
        comment.edited_at = timezone.now()
        comment.save()
        comment.mentions.set(people)
    return comment


def comment_delete(*, comment: Comment, actor) -> None:
    """The author removes it; the audit row of the delete keeps its last text."""
    require(can_edit_comment(comment, actor), actor=actor, obj=comment, action="delete", message=MESSAGE_EDIT)
    with audited_write(actor):
        comment.delete()


def comment_set_hidden(*, comment: Comment, actor, hidden: bool) -> Comment:
    """An operator hides a comment from everyone but operators, or shows it again."""
    require(can_hide_comments(actor), actor=actor, obj=comment, action="hide" if hidden else "show",
            message=MESSAGE_HIDE)
    if comment.hidden == hidden:
        return comment
    with audited_write(actor):
        comment.hidden = hidden
        comment.save()
    return comment
