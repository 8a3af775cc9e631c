"""The REST store (http:// tracking URIs) against a real `mlflow server`."""
