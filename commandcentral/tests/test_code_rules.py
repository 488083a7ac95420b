"""Rules a grep can hold: audited models change only through save()/delete(), since django-auditlog
sees only those; audited M2M fields are never cleared; auditlog's own context is never used."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_DIRS = ["commandcentral", "core", "accounts", "states", "projects", "decisions", "audit", "webhooks", "discussions",
            "notifications", "search", "live"]
RULES = {
    # QuerySet.update()/bulk writes bypass django-auditlog's signals: no audit row would be written.
    "queryset update": re.compile(r"(objects|_base_manager|\.filter\([^)]*\)|\.exclude\([^)]*\))\s*\.update\("),
    "bulk write": re.compile(r"\.bulk_(create|update)\("),
    # clear() on an audited M2M logs every object of the related model (auditlog #539): use set([]).
    "m2m clear": re.compile(r"related_decisions\.clear\("),
    # auditlog's context sets actor/remote_addr in a pre_save receiver, after the row was hashed;
    # nested, it also leaks a receiver and drops actors (#711, #846). Use audit_context.
    "auditlog context": re.compile(r"\b(set_actor|set_extra_data)\("),
}
ALLOWED = {
    # The model's own refusal of these calls.
    ("queryset update", "audit/models.py"),
    ("bulk write", "audit/models.py"),
    # The sequencer appends leaves and subtree hashes (not audited models) a batch at a time.
    ("bulk write", "audit/ledger/sequencer.py"),
    # A subscription's delivery state (cursor, failures, lease; excluded from auditlog) moves with
    # UPDATEs; a pause and a redelivery write their own audit rows in the same block.
    ("queryset update", "webhooks/delivery.py"),
    ("queryset update", "webhooks/services.py"),
    # Notifications follow from audit rows and are not audited models themselves: the builder's cursor and
    # lease, a batch of notifications, and their mail bookkeeping are written in bulk or with UPDATEs.
    ("queryset update", "notifications/builder.py"),
    ("bulk write", "notifications/builder.py"),
    ("queryset update", "notifications/mail.py"),
}


def _sources():
    for app in APP_DIRS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            yield relative, path.read_text()


def test_audited_models_are_only_changed_through_save_and_delete():
    offenders = [
        f"{relative}:{number}: {rule}: {line.strip()}"
        for relative, text in _sources()
        for number, line in enumerate(text.splitlines(), 1)
        for rule, pattern in RULES.items()
        if pattern.search(line) and (rule, relative) not in ALLOWED and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_the_rules_catch_what_they_are_meant_to():
    assert RULES["queryset update"].search("Project.objects.filter(pk=1).update(state='x')")
    assert RULES["bulk write"].search("Decision.objects.bulk_create(rows)")
    assert RULES["m2m clear"].search("decision.related_decisions.clear()")
    assert not RULES["queryset update"].search("data.update(extra)")
    assert RULES["auditlog context"].search("with set_extra_data(context_data=context):")

