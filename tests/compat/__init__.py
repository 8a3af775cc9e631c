"""The MLflow compatibility suite's machinery: alias, runner, dump, comparison (README.md)."""
