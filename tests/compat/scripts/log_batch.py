"""MlflowClient: create a run, log a batch of metrics, params and tags, end it by hand."""

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

client = MlflowClient()
experiment_id = client.create_experiment("batch")

run = client.create_run(experiment_id, run_name="batched", tags={"source": "client"})
run_id = run.info.run_id
assert run.info.status == "RUNNING", run.info.status

base = 1_700_000_000_000
client.log_batch(
    run_id,
    metrics=[Metric("loss", 1.0 / (i + 1), base + i, i) for i in range(10)]
    + [Metric("lr", 0.1 * 0.5**i, base + i, i) for i in range(10)],
    params=[Param("batch_size", "32"), Param("model", "mlp")],
    tags=[RunTag("phase", "train"), RunTag("temp", "x")],
)
client.log_metric(run_id, "loss", 0.05, timestamp=base + 100, step=10)
client.log_param(run_id, "epochs", 10)
client.set_tag(run_id, "phase", "eval")
client.delete_tag(run_id, "temp")
history = client.get_metric_history(run_id, "loss")
assert [m.step for m in history] == list(range(11)), [m.step for m in history]
client.set_terminated(run_id)

other = client.create_run(experiment_id, run_name="killed-by-hand")
client.log_batch(other.info.run_id, metrics=[Metric("loss", 2.0, base, 0)])
client.set_terminated(other.info.run_id, status="KILLED")

removed = client.create_run(experiment_id, run_name="removed")
client.set_terminated(removed.info.run_id)
client.delete_run(removed.info.run_id)

renamed = client.create_run(experiment_id, run_name="first-name")
client.update_run(renamed.info.run_id, name="second-name")
client.set_terminated(renamed.info.run_id)

SEARCHES = [
    ("batch", "metrics.loss < 1", []),
    ("batch", "tags.phase = 'eval'", []),
    ("batch", "attributes.status = 'KILLED'", []),
    ("batch", "", ["metrics.loss ASC"]),
]
