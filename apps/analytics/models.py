"""No Django models: the dashboard reads the store's and the inbox's tables. Its summary tables
(a cache kept exact by triggers, see summary.py), the SQL views for Metabase and its indexes are
created per tenant schema by migrations/0001_summary_views_indexes.py."""
