"""The hourly budget is kept per Outreach org and user (user ids repeat across Outreach orgs).

Windows counted before this have no org: they are left as they are (nothing reads them any more)
and pruned within two hours like every other window.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0002_token_endpoint_trouble"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="outreachratewindow",
            name="one_outreach_rate_window",
        ),
        migrations.AddField(
            model_name="outreachratewindow",
            name="outreach_org_id",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="outreachratewindow",
            constraint=models.UniqueConstraint(
                fields=("outreach_org_id", "outreach_user_id", "window_start"),
                name="one_outreach_rate_window_per_org_user",
            ),
        ),
    ]
