"""The built-in tools: handoff_to_human, save_contact_data, business_hours (filled in by the turn
pipeline's owner)."""
