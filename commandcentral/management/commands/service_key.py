"""manage.py service_key create|revoke|list: service accounts' API keys from a shell.

    service_key create --service ci-bot --project <id or slug> --role member [--expires 90] [--name "CI"]
    service_key revoke <prefix> [--reason "..."]
    service_key list [--service ci-bot] [--all]

`create` makes the service account if it is new, gives it `--role` in `--project` (membership_add, as
an operator at the shell) and prints the new key once. Rotation: create a second key, move the
service to it, revoke the first.
"""

import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ServiceKey
from accounts.service_accounts import (
    service_account_email,
    service_account_get_or_create,
    service_key_create,
    service_key_revoke,
)
from core.errors import ActionForbidden, Conflict, InvalidInput
from core.commands import command_audit_context
from projects.models import MembershipRole, Project
from projects.services import membership_add


def _project(value: str) -> Project:
    try:
        lookup = {"pk": uuid.UUID(value)}
    except ValueError:
        lookup = {"slug": value}
    project = Project.objects.live().filter(**lookup).first()
    if project is None:
        raise CommandError(f"No live project {value!r} (give its id or slug).")
    return project


class Command(BaseCommand):
    help = "Create, revoke and list service accounts' API keys (Authorization: Api-Key <key>)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="A new key (printed once), and the service's project role.")
        create.add_argument("--service", required=True, help="The service's name, e.g. ci-bot.")
        create.add_argument("--project", required=True, help="Id or slug of the project it may work in.")
        create.add_argument("--role", required=True, choices=MembershipRole.values)
        create.add_argument("--expires", type=int, metavar="DAYS", help="Days until the key stops working.")
        create.add_argument("--name", default="", help="What this key is for (default: the service's name).")
        revoke = commands.add_parser("revoke", help="Revoke a key for good.")
        revoke.add_argument("prefix", help="The key's prefix (the part before the dot), as `list` shows it.")
        revoke.add_argument("--reason", default="")
        listing = commands.add_parser("list", help="Keys with their service, state and expiry.")
        listing.add_argument("--service", help="Only this service's keys.")
        listing.add_argument("--all", action="store_true", help="Revoked keys too.")

    def handle(self, *args, **options):
        with command_audit_context(None):
            try:
                return getattr(self, f"_{options['action']}")(**options)
            except (InvalidInput, Conflict, ActionForbidden) as refused:
                raise CommandError(refused.message) from None

    def _create(self, *, service, project, role, expires, name, **_):
        target = _project(project)
        account, created = service_account_get_or_create(name=service)
        membership_add(project=target, actor=None, user=account, role=role, from_shell=True)
        key, raw = service_key_create(service=account, name=name, expires_in_days=expires)
        self.stderr.write(
            f"{'Created service account' if created else 'Service account'} {account.email}: {role} of "
            f"{target.slug}. Key {key.prefix} ({key.name}), "
            f"{'expires ' + key.expiry_date.isoformat() if key.expiry_date else 'no expiry'}. "
            "Store the key now: it is not shown again."
        )
        self.stdout.write(raw)

    def _revoke(self, *, prefix, reason, **_):
        key = ServiceKey.objects.filter(prefix=prefix).select_related("service").first()
        if key is None:
            raise CommandError(f"No key with prefix {prefix!r}.")
        already = key.revoked
        service_key_revoke(key=key, reason=reason)
        self.stdout.write(f"Key {prefix} of {key.service.email} {'was already' if already else 'is now'} revoked.")

    def _list(self, *, service, all, **_):
        keys = ServiceKey.objects.select_related("service").order_by("service__email", "-created")
        if service:
            keys = keys.filter(service__email__iexact=service_account_email(service))
        if not all:
            keys = keys.filter(revoked=False)
        self.stdout.write(f"{'PREFIX':<10} {'SERVICE':<32} {'NAME':<24} {'CREATED':<20} {'EXPIRES':<20} STATE")
        for key in keys:
            state = "revoked" if key.revoked else "expired" if key.has_expired else "valid"
            expires = key.expiry_date.strftime("%Y-%m-%d %H:%M") if key.expiry_date else "-"
            self.stdout.write(f"{key.prefix:<10} {key.service.email:<32} {key.name[:24]:<24} "
                              f"{key.created:%Y-%m-%d %H:%M}     {expires:<20} {state}")
