import uuid

from django.core.management.base import BaseCommand, CommandError

from core.commands import command_audit_context, resolve_actor
from core.transitions import TransitionRefused, perform_transition
from decisions.models import Decision
from projects.models import Project

MODELS = {"project": Project, "decision": Decision}


class Command(BaseCommand):
    help = "Run a project or decision transition as a user, under the same rules and audit as every surface."

    def add_arguments(self, parser):
        parser.add_argument("model", choices=sorted(MODELS))
        parser.add_argument("id", help="a project's id or slug, or a decision's id")
        parser.add_argument("name", help="transition name, e.g. activate")
        parser.add_argument("--actor", required=True, help="email of the acting user")
        parser.add_argument("--rationale", default="")
        parser.add_argument("--option", dest="selected_option", help="decide: the chosen option id")
        parser.add_argument("--correlation-id", default=None)

    def handle(self, *args, model, id, name, actor, rationale, selected_option, correlation_id, **options):
        user = resolve_actor(actor)
        visible = MODELS[model].objects.visible_to(user)
        try:
            obj = visible.get(pk=uuid.UUID(id))
        except ValueError:  # not an id: a project's slug
            obj = visible.filter(slug=id).first() if model == "project" else None
        except MODELS[model].DoesNotExist:
            obj = None
        if obj is None:
            raise CommandError(f"No {model} {id} visible to {user.email}.")
        params = {"selected_option": selected_option} if selected_option is not None else {}
        with command_audit_context(user, correlation_id):
            try:
                entry = perform_transition(obj, name, actor=user, rationale=rationale, **params)
            except TransitionRefused as refused:
                raise CommandError(refused.message)  # the same words as every surface; status codes are the API's
            except TypeError as error:
                raise CommandError(str(error))
        self.stdout.write(self.style.SUCCESS(f"{model} {obj.pk}: {entry.from_state} -> {entry.to_state} (audit #{entry.pk})"))
