"""Order numbers: one PostgreSQL sequence per tenant schema (gap-free is not promised: a rolled
back placement burns its number, as in every shop system)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("store", "0001_initial")]

    operations = [migrations.RunSQL("CREATE SEQUENCE IF NOT EXISTS store_order_number_seq START 1",
                                    reverse_sql="DROP SEQUENCE IF EXISTS store_order_number_seq")]
