"""Demo users, projects, decisions and tracked entities with a real history (made through the real
transition path)."""

import random

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.invitations import invitation_create, invitation_revoke
from accounts.models import User
from core.commands import command_audit_context
from core.transitions import TransitionRefused, perform_transition, transition_specs
from decisions.models import Decision
from decisions.services import decision_create, review_create
from discussions.services import comment_create
from projects.models import MembershipRole, Project
from projects.services import membership_add, project_create
from states.services import entity_register, entity_transition

RATIONALES = {
    "activate": "Kick-off approved by the steering group.",
    "pause": "Paused while the team helps with the incident backlog.",
    "resume": "Back on track after the incident review.",
    "complete": "Delivered and handed over to operations.",
    "kill": "Stopped: the vendor dropped the feature we needed.",
}
DEMO_USERS = [
    # email, name, password, staff
    ("admin@example.com", "Ada Operator", "admin-demo-pass", True),
    ("owner@example.com", "Owen Owner", "owner-demo-pass", False),
    ("member@example.com", "Mia Member", "member-demo-pass", False),
    ("viewer@example.com", "Vic Viewer", "viewer-demo-pass", False),
]

PROJECT_NAMES = ["Payments platform", "Search relaunch", "Data retention", "Mobile app v2", "Observability", "Billing migration"]
QUESTIONS = [
    ("Primary datastore", "Which database should hold the ledger?", ["PostgreSQL", "MySQL", "DynamoDB"]),
    ("Deployment target", "Where do we run the service?", ["Kubernetes", "VMs", "Serverless"]),
    ("API style", "Which API style do we expose?", ["REST", "GraphQL"]),
    ("Queue", "Which message broker?", ["RabbitMQ", "Kafka", "NATS"]),
]
# Entities other services track in an open project: (service, type, id, the states it moves through).
ENTITIES = [
    ("tracker", "task", "ship-the-api", ["in_progress", "review"]),
    ("tracker", "task", "load-test", ["in_progress"]),
    ("tracker", "task", "rotate-keys", ["blocked"]),
    ("experiments", "hypothesis", "cache-halves-latency", ["testing"]),
]


class Command(BaseCommand):
    help = ("Seed demo users, projects, decisions and tracked entities (idempotent: does nothing when the demo "
            "data exists).")

    def add_arguments(self, parser):
        parser.add_argument("--projects", type=int, default=6, help="number of projects (default 6)")
        parser.add_argument("--decisions", type=int, default=3, help="decisions per project (default 3)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--force", action="store_true", help="seed more even if demo data exists")

    def handle(self, *args, projects, decisions, seed, force, **options):
        rng = random.Random(seed)
        users = self._users()
        admin, owner, member, viewer = (users[email] for email, *_ in DEMO_USERS)
        if Project.objects.filter(owner=owner).exists() and not force:
            self.stdout.write("Demo data already present; nothing to do.")
        else:
            self.made = {"entities": 0, "with_decisions": 0}
            decisions_before = Decision.objects.count()
            with command_audit_context(admin):
                for index in range(projects):
                    self._project(index, rng, admin, owner, member, viewer, decisions)
                    if projects >= 50 and (index + 1) % max(1, projects // 20) == 0:
                        self.stderr.write(f"  {index + 1}/{projects} projects")
            # What was made, not what was asked for: a project that never opened has no decisions.
            self.stdout.write(self.style.SUCCESS(
                f"Seeded {_count(projects, 'project')}; {_count(self.made['with_decisions'], 'open project')} "
                f"{'has' if self.made['with_decisions'] == 1 else 'have'} {_count(Decision.objects.count() - decisions_before, 'decision')} "
                f"and {_count(self.made['entities'], 'tracked entity', 'tracked entities')} in all."))
        self.stdout.write("Demo logins (email / password):")
        for email, name, password, staff in DEMO_USERS:
            self.stdout.write(f"  {email:<22} {password:<18} {'operator (admin)' if staff else name}")

    def _users(self) -> dict:
        users = {}
        for email, name, password, staff in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                if staff:
                    user = User.objects.create_superuser(email, password, name=name)
                else:
                    user = User.objects.create_user(email, password, name=name)
            users[email] = user
        return users

    def _project(self, index, rng, admin, owner, member, viewer, decisions) -> None:
        """A project with a plausible history: kicked off, maybe paused and resumed, completed or stopped."""
        name = PROJECT_NAMES[index % len(PROJECT_NAMES)] + (f" {index // len(PROJECT_NAMES) + 1}" if index >= len(PROJECT_NAMES) else "")
        with transaction.atomic():
            project = project_create(actor=owner, name=name, description=f"Demo project: {name.lower()}.",
                                     settings={"features": {"reviews": True}})
            membership_add(project=project, actor=owner, user=member, role=MembershipRole.MEMBER)
            membership_add(project=project, actor=owner, user=viewer, role=MembershipRole.VIEWER)
        path = ["activate"] + rng.choice([[], ["pause"], ["pause", "resume"], [], ["complete"]])
        if index % 6 == 5:
            path = ["kill"]
        if index % 6 == 4:
            path = []
        try:
            perform_transition(project, path[0], actor=owner, rationale=RATIONALES[path[0]]) if path else None
            # Decisions need an open project; they get made before the project closes.
            if project.state == "active":
                self._decisions(project, rng, owner, member, decisions)
                self._entities(project, member)
                if index == 0:
                    self._team_work(project, owner, member)
            for name in path[1:]:
                perform_transition(project, name, actor=owner, rationale=RATIONALES[name])
        except TransitionRefused as refused:
            self.stderr.write(f"  skipped a demo transition: {refused.message}")
        # One refused attempt per open project, so the refused-attempts views have something to show: the
        # viewer tries the project's next step (a permission refusal, recorded like any other).
        following = next((name for name, spec in transition_specs(Project).items() if project.state in spec.sources), None)
        if following:
            try:
                perform_transition(project, following, actor=viewer, rationale="I thought I could move it along.")
            except TransitionRefused:
                pass

    def _entities(self, project, member) -> None:
        """What the team's other tools track in the project (the Entities page, the states API)."""
        for service, entity_type, entity_id, moves in ENTITIES:
            entity = entity_register(actor=member, service=service, entity_type=entity_type, entity_id=entity_id,
                                     project=project, metadata={"source": "demo"})
            for to_state in moves:
                entity_transition(entity, to_state, actor=member, rationale="Demo: work moves along.")
            self.made["entities"] += 1

    def _decisions(self, project, rng, owner, member, count) -> None:
        decided = None
        if count:
            self.made["with_decisions"] += 1
        for n in range(count):
            title, question, labels = QUESTIONS[(n + rng.randrange(len(QUESTIONS))) % len(QUESTIONS)]
            options = [
                {"id": label.lower(), "label": label, "pros": [f"{label} is familiar"], "cons": [f"{label} costs more"]}
                for label in labels
            ]
            decision = decision_create(actor=member, project=project, title=f"{title} #{n + 1}", question=question,
                                       context="Raised in the weekly architecture review.", options=options,
                                       tags=["architecture", "demo"], supersedes=decided if n == 2 else None)
            if n == count - 1 and count > 2:
                continue  # leave one draft
            perform_transition(decision, "activate", actor=member, rationale="Ready for review.")
            if n % 2 == 0:
                perform_transition(decision, "decide", actor=owner, rationale="Best trade-off for the team.",
                                   selected_option=options[0]["id"])
                decided = decision

    def _team_work(self, project, owner, member) -> None:
        """How a team governs together: invitations, a discussion, reviews that decide or block."""
        invitation_create(project=project, actor=owner, email="newcomer@example.com", role=MembershipRole.MEMBER)
        contractor = invitation_create(project=project, actor=owner, email="contractor@example.com",
                                       role=MembershipRole.VIEWER)
        invitation_revoke(invitation=contractor, actor=owner)
        comment_create(actor=owner, project=project,
                       body="Welcome aboard! Decisions with **reviewers** need their approvals before anyone decides.")

        def options(*labels):
            return [{"id": label.lower(), "label": label, "pros": [], "cons": []} for label in labels]

        approved = decision_create(
            actor=owner, project=project, title="Adopt PostgreSQL for production",
            question="Which database runs production?", options=options("PostgreSQL", "MySQL"),
            context="We need **transactions**, `LISTEN/NOTIFY` and mature backups.\n\n- replication\n- point-in-time recovery",
            reviewers=[owner, member], required_approvals=2, tags=["demo"],
        )
        perform_transition(approved, "activate", actor=owner, rationale="Ready for review.")
        comment_create(actor=owner, project=project, decision=approved,
                       body=f"@{member.handle} could you check the backup story before you approve?")
        comment_create(actor=member, project=project, decision=approved,
                       body="Checked with @dba-team: point-in-time recovery works with our setup.")
        review_create(decision=approved, actor=member, verdict="approve", option="postgresql",
                      comment="Backups and replication are covered.")
        review_create(decision=approved, actor=owner, verdict="approve", option="postgresql")
        perform_transition(approved, "decide", actor=owner, rationale="Two approvals, no objection.",
                           selected_option="postgresql")

        blocked = decision_create(
            actor=owner, project=project, title="Move CI to self-hosted runners",
            question="Where do our CI jobs run?", options=options("Self-hosted", "Hosted"),
            context="Hosted minutes cost more every month.", reviewers=[owner, member],
            required_approvals=1, tags=["demo"],
        )
        perform_transition(blocked, "activate", actor=owner, rationale="Ready for review.")
        review_create(decision=blocked, actor=owner, verdict="approve", option="self-hosted")
        review_create(decision=blocked, actor=member, verdict="object", comment="Who patches the runners?")
        # Deciding now is refused (a standing objection), and the refusal is on the record like any other.
        try:
            perform_transition(blocked, "decide", actor=owner, rationale="Let's go.", selected_option="self-hosted")
        except TransitionRefused:
            pass

        waiting = decision_create(
            actor=owner, project=project, title="Adopt trunk-based development",
            question="Do we merge to main daily?", options=options("Yes", "No"),
            reviewers=[member], required_approvals=1, tags=["demo"],
        )
        perform_transition(waiting, "activate", actor=owner, rationale="Ready for review.")


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"
