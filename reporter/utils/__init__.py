"""MLflow's `mlflow.utils`: only `mlflow_tags`, the system tag names MLflow code reads."""
