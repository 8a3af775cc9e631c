"""`tracker-report summary` without the command: the summary model, its gates, its rendering."""
