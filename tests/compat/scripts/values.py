"""Edge values: NaN and infinities, ints and bools, odd but valid key names, long text."""

import math

import mlflow

mlflow.set_experiment("values")

with mlflow.start_run(run_name="edge-values", description="Checks **odd** values."):
    mlflow.log_metric("nan", math.nan)
    mlflow.log_metric("inf", math.inf)
    mlflow.log_metric("neg_inf", -math.inf)
    mlflow.log_metric("int_metric", 3)
    mlflow.log_metric("bool_metric", True)
    mlflow.log_metric("tiny", 1e-300)
    mlflow.log_metric("huge", 1e300)
    mlflow.log_metric("big_step", 0.5, step=2**40)
    mlflow.log_metric("negative_step", 0.25, step=-3)
    mlflow.log_metric("val loss/epoch-1.b", 0.75)
    mlflow.log_params({"none": None, "flag": False, "ratio": 1 / 3, "nested": {"a": [1, 2]}})
    mlflow.log_param("long", "x" * 500)
    mlflow.log_param("unicode_value", "température ✓")
    mlflow.set_tag("empty", "")
    mlflow.set_tag("multi line", "first\nsecond")

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("values", "metrics.inf > 1e308", []),
    ("values", "metrics.`val loss/epoch-1.b` = 0.75", []),
    ("values", "params.flag = 'False'", []),
    ("values", "tags.empty = ''", []),
    ("values", "params.unicode_value LIKE 'temp%'", []),
]
