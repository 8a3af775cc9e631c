"""Import runs from MLflow: a file store folder, a SQLite database, or a tracking server."""
