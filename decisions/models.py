"""The governed decision log and the decision lifecycle."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.base_models import UUIDModel
from core.transitions import StateTracked, requirement
from core import access
from core.access import can_edit_decisions, can_govern_decisions


class DecisionState(models.TextChoices):
    DRAFT = "draft"
    ACTIVE = "active"
    DECIDED = "decided"
    ARCHIVED = "archived"


EDITABLE_STATES = (DecisionState.DRAFT, DecisionState.ACTIVE)


class Verdict(models.TextChoices):
    APPROVE = "approve"
    OBJECT = "object"
    ABSTAIN = "abstain"


# Requirements are small named predicates with their plain words: a refused caller reads the words in
# the message and the names in `missing`; pages show them as a checklist next to each transition.
@requirement("a question")
def has_question(decision: "Decision") -> bool:
    return bool((decision.question or "").strip())


@requirement("at least two options")
def has_two_options(decision: "Decision") -> bool:
    return len(decision.options or []) >= 2


def _choose_one_of(decision: "Decision | None") -> str:
    ids = [str(option.get("id")) for option in (getattr(decision, "options", None) or [])]
    chosen = str(getattr(decision, "selected_option", "") or "")
    if chosen and ids and chosen not in ids:  # a choice was sent: say what is wrong with it
        return f"one of the options chosen ('{chosen}' is not an option of this decision: {', '.join(ids)})"
    return f"one of the options chosen ({', '.join(ids)})" if ids else "one of the options chosen"


@requirement(_choose_one_of, from_input=True)
def has_valid_selected_option(decision: "Decision") -> bool:
    return decision.selected_option in {option.get("id") for option in decision.options or []}


def _approvals_needed(decision: "Decision | None") -> str:
    needed = getattr(decision, "required_approvals", None)
    if needed is None:
        return "the approvals it requires from its reviewers"
    if needed == 0:
        return "no approval (the owner decides alone)"
    return f"{needed} approval{'s' if needed != 1 else ''} from its reviewers"


@requirement(_approvals_needed)
def has_required_approvals(decision: "Decision") -> bool:
    if not decision.required_approvals:
        return True  # no query: the owner decides alone
    return decision.verdict_counts()[Verdict.APPROVE] >= decision.required_approvals


@requirement("no standing objection from a reviewer")
def has_no_standing_objection(decision: "Decision") -> bool:
    return decision.verdict_counts()[Verdict.OBJECT] == 0


@requirement("a project that is still open (not completed or killed)")
def has_open_project(decision: "Decision") -> bool:
    return not decision.project.is_closed


class DecisionQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, user, *, project_ids=()):
        """Live decisions of live projects this user can see (operators too: no decision of a deleted project).
        project_ids: access.visible_project_ids(user), when the caller has read them already."""
        return access.rows_of_visible_projects(self.live(), user, operators_see_all=False, ids=project_ids)


class Decision(StateTracked, ConcurrentTransitionMixin, UUIDModel):
    audit_entity_type = "decision"

    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="decisions")
    title = models.CharField(max_length=200)
    question = models.TextField(blank=True)
    context = models.TextField(blank=True)
    options = models.JSONField(default=list, blank=True)
    selected_option = models.CharField(max_length=50, blank=True)
    rationale = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    related_decisions = models.ManyToManyField("self", blank=True, symmetrical=True)
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    review_by = models.DateField(null=True, blank=True, db_index=True)
    # Who is asked to review it (project members and owners) and how many approvals decide needs.
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="decisions_to_review")
    required_approvals = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    state = FSMField(default=DecisionState.DRAFT, choices=DecisionState.choices, protected=True, db_index=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Who deleted it: they may undo it for a while (access.can_restore).
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "state"], name="decision_project_state_idx")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("decision_detail", args=[self.pk])

    @property
    def chosen_option(self) -> dict | None:
        """The option decided on (a decided or archived decision), for the lists."""
        return self.option(self.selected_option) if self.selected_option else None

    @property
    def review_overdue(self) -> bool:
        """Its review date has passed and it is not archived."""
        return bool(self.review_by and self.review_by < timezone.localdate() and self.state != DecisionState.ARCHIVED)

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.project_id)}

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES and not self.project.is_closed

    def option(self, option_id: str) -> dict | None:
        return next((o for o in self.options or [] if o.get("id") == option_id), None)

    def standing_verdicts(self) -> dict:
        """{reviewer id: their latest review} for each named reviewer still on the team (the owner or a
        member: the verdict of someone who has left it no longer counts) who has given a verdict.

        Read once per instance (the engine's locked copy, a page's decision): a later change is seen by
        the next request, which reads a fresh instance."""
        cached = self.__dict__.get("_standing_verdicts")
        if cached is None:
            reviewers = set(access.eligible_reviewers(self.reviewers.all(), self.project).values_list("pk", flat=True))
            cached = {}
            if reviewers:
                for review in self.reviews.filter(reviewer_id__in=reviewers).order_by("created_at", "pk"):
                    cached[review.reviewer_id] = review
            self.__dict__["_standing_verdicts"] = cached
        return cached

    def verdict_counts(self) -> dict:
        counts = dict.fromkeys(Verdict.values, 0)
        for review in self.standing_verdicts().values():
            counts[review.verdict] += 1
        return counts

    # The decorators are the only written copy of the decision state machine.
    @transition(
        state,
        source=DecisionState.DRAFT,
        target=DecisionState.ACTIVE,
        permission=can_edit_decisions,
        conditions=[has_open_project, has_question, has_two_options],
    )
    def activate(self) -> None:
        """State change only; saving and auditing belong to perform_transition."""

    @transition(
        state,
        source=DecisionState.ACTIVE,
        target=DecisionState.DECIDED,
        permission=can_govern_decisions,
        conditions=[has_open_project, has_valid_selected_option, has_required_approvals, has_no_standing_objection],
        custom={"params": ("selected_option",)},
    )
    def decide(self) -> None:
        """selected_option is set by perform_transition before the requirements are checked."""

    @transition(
        state,
        source=[DecisionState.ACTIVE, DecisionState.DECIDED],
        target=DecisionState.ARCHIVED,
        permission=can_govern_decisions,
        conditions=[has_open_project],
    )
    def archive(self) -> None:
        """State change only."""

    def mark_state_changed(self, *, by, transition: str, rationale: str) -> None:
        super().mark_state_changed(by=by, transition=transition, rationale=rationale)
        if transition == "decide":
            self.rationale = rationale
            self.decided_by = self.state_changed_by
            self.decided_at = timezone.now()


class Review(models.Model):
    """One verdict of one reviewer on one decision; a new row per verdict, the latest one counts."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    option = models.CharField(max_length=50, blank=True, help_text="The option this reviewer prefers, if any.")
    comment = models.TextField(blank=True, max_length=20000)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["decision", "reviewer", "created_at"], name="review_latest_idx")]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.verdict}s {self.decision}"
