"""The builder's one row, with its cursor at the ledger's current size: a database that already has a
trail is not notified of its whole history when notifications arrive, only of what is sealed from now."""

from django.db import migrations


def start_at_the_head(apps, schema_editor):
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    BuilderState = apps.get_model("notifications", "BuilderState")
    using = schema_editor.connection.alias
    last = LedgerLeaf.objects.using(using).order_by("-leaf_index").values_list("leaf_index", flat=True).first()
    BuilderState.objects.using(using).get_or_create(pk=1, defaults={"cursor": 0 if last is None else last + 1})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("audit", "0012_witnesses"),
    ]

    operations = [migrations.RunPython(start_at_the_head, migrations.RunPython.noop)]
