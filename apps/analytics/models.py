"""No tables: the dashboard reads the store's; SQL views for Metabase come from migrations."""
