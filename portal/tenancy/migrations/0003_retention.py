from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0002_settle_and_give_up"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="call_retention_days",
            field=models.PositiveSmallIntegerField(
                default=90,
                help_text="Days a finished call is kept, with what the provider sent and what "
                "was sent to Outreach.",
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="audit_retention_days",
            field=models.PositiveSmallIntegerField(
                default=365, help_text="Days the organisation's audit trail is kept."
            ),
        ),
    ]
