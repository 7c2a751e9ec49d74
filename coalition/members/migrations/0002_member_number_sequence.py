"""Member numbers come from their own sequence, so they are unique without a
read-then-write race and unrelated to the row id."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS public.members_member_number_seq START 100000001;",
            "DROP SEQUENCE IF EXISTS public.members_member_number_seq;",
        )
    ]
