"""MLflow names that tracker-report leaves out on purpose, and the error that says so.

`import reporter as mlflow` runs MLflow's tracking code: experiments, runs, params, metrics,
tags, artifacts, models and the model registry. MLflow's other features (tracing, GenAI
evaluation, prompts, projects, the gateway, most model flavors) are not part of tracker-report.
Asking `reporter` for one of their names raises `UnsupportedFeatureError`, which names the
feature; it is an AttributeError, so `hasattr(mlflow, "trace")` stays False.
"""

from __future__ import annotations

from reporter.core.errors import UnsupportedFeatureError

TRACING = "MLflow Tracing (traces and spans of GenAI apps)"
ASSESSMENTS = "assessments and feedback on traces (MLflow Tracing)"
EVALUATION = "model and GenAI evaluation"
PROMPTS = "the prompt registry"
WORKSPACES = "workspaces of an MLflow server"
SYSTEM_METRICS = "system metrics logging (CPU, GPU and memory sampling)"
PROJECTS = "MLflow Projects"
GATEWAY = "the AI gateway and model deployments"
DATABRICKS = "Databricks-only features"
DOCTOR = "MLflow's environment report (mlflow.doctor)"
PYTEST = "MLflow's pytest plugin"
SERVER = "MLflow's server and UI (tracker-report has `tracker-report server`, `serve` and `build`)"
FEATURES_LATER: frozenset[str] = frozenset()  # planned: the message says "not yet"

# MLflow's model flavors: saving, loading and autologging models of a library
FLAVORS = (
    "catboost",
    "diffusers",
    "h2o",
    "johnsnowlabs",
    "keras",
    "onnx",
    "paddle",
    "pmdarima",
    "prophet",
    "pyspark",
    "rfunc",
    "sentence_transformers",
    "shap",
    "spacy",
    "spark",
    "statsmodels",
    "tensorflow",
    "transformers",
)
FLAVORS_LATER: frozenset[str] = frozenset()
# MLflow's GenAI integrations: autologging traces of a library's calls
GENAI_INTEGRATIONS = (
    "ag2",
    "agno",
    "anthropic",
    "autogen",
    "bedrock",
    "crewai",
    "dspy",
    "gemini",
    "groq",
    "haystack",
    "langchain",
    "litellm",
    "llama_index",
    "mistral",
    "openai",
    "pydantic_ai",
    "semantic_kernel",
    "smolagents",
    "strands",
    "txtai",
    "typesafe",
)

# name of `mlflow.<name>` -> the feature it belongs to
LEFT_OUT: dict[str, str] = {
    **{
        name: TRACING
        for name in (
            "add_trace",
            "context",  # MLflow 3's mlflow.context is tracing's context manager
            "delete_trace_tag",
            "flush_trace_async_logging",
            "get_active_trace_id",
            "get_current_active_span",
            "get_last_active_trace_id",
            "get_trace",
            "log_trace",
            "otel",
            "search_sessions",
            "search_traces",
            "set_trace_tag",
            "start_span",
            "start_span_no_context",
            "trace",
            "tracing",
            "update_current_trace",
        )
    },
    **{
        name: ASSESSMENTS
        for name in (
            "delete_assessment",
            "get_assessment",
            "log_assessment",
            "log_expectation",
            "log_feedback",
            "log_issue",
            "override_feedback",
            "update_assessment",
        )
    },
    **{
        name: EVALUATION
        for name in ("agent", "evaluate", "genai", "metrics", "validate_evaluation_results")
    },
    **{
        name: PROMPTS
        for name in (
            "delete_prompt_alias",
            "load_prompt",
            "prompt",
            "register_prompt",
            "search_prompts",
            "set_prompt_alias",
        )
    },
    **{
        name: WORKSPACES
        for name in (
            "create_workspace",
            "delete_workspace",
            "get_workspace",
            "list_workspaces",
            "set_workspace",
            "update_workspace",
        )
    },
    **{
        name: SYSTEM_METRICS
        for name in (
            "disable_system_metrics_logging",
            "enable_system_metrics_logging",
            "set_system_metrics_node_id",
            "set_system_metrics_samples_before_logging",
            "set_system_metrics_sampling_interval",
            "system_metrics",
        )
    },
    "run": PROJECTS,
    "projects": PROJECTS,
    "gateway": GATEWAY,
    "deployments": GATEWAY,
    "login": DATABRICKS,
    "import_checkpoints": DATABRICKS,
    "doctor": DOCTOR,
    "test": PYTEST,
    "pytest": PYTEST,
    "server": SERVER,
    **{name: f"the {name} model flavor" for name in FLAVORS},
    **{name: f"the {name} integration (tracing its calls)" for name in GENAI_INTEGRATIONS},
}


def left_out_error(name: str) -> UnsupportedFeatureError:
    """Return the error for `reporter.<name>`, a name of a feature left out on purpose."""
    feature = LEFT_OUT[name]
    planned = feature in FEATURES_LATER or name in FLAVORS_LATER
    when = "not part of tracker-report yet" if planned else "not part of tracker-report"
    return UnsupportedFeatureError(
        f"reporter.{name} (mlflow.{name}) belongs to {feature}, which is {when}. "
        "tracker-report covers MLflow's tracking: experiments, runs, params, metrics, tags, "
        "artifacts, datasets, logged models and the sklearn flavor. Use MLflow itself for "
        "this feature.",
        name=name,
        feature=feature,
    )
