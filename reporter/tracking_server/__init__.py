"""The tracking server: MLflow's REST API and proxied artifact API over one store, and the
report site at `/` (`tracker-report server`).

It keeps no state of its own (the store is the state), so replicas on one store scale out
behind a load balancer. A write is answered once its rows are in a published file; the
writes of concurrent requests share one file (`commit.GroupCommit`).
"""
