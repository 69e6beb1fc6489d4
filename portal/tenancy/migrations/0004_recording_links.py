from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0003_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="recording_links_need_sign_in",
            field=models.BooleanField(
                default=False,
                help_text="Playing a recording or voicemail link needs a sign-in as a member.",
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="recording_links_generation",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
