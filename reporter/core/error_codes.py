"""MLflow's error codes, the package's one list of them: each constant of MLflow's
`mlflow.protos.databricks_pb2` (a number) under its name, in MLflow's order.

`reporter.protos.databricks_pb2` and `reporter.exceptions` re-export every name here with
`import *`, so this module holds the constants and nothing else (no imports, no helpers);
`reporter.core.errors` makes the name -> number table (`ERROR_CODES`) of them.
"""

INTERNAL_ERROR = 1
TEMPORARILY_UNAVAILABLE = 2
IO_ERROR = 3
BAD_REQUEST = 4
DEADLINE_EXCEEDED = 7
CANCELLED = 8
RESOURCE_EXHAUSTED = 9
ABORTED = 10
NOT_FOUND = 11
ALREADY_EXISTS = 12
UNAUTHENTICATED = 13
INVALID_PARAMETER_VALUE = 1000
ENDPOINT_NOT_FOUND = 1001
MALFORMED_REQUEST = 1002
INVALID_STATE = 1003
PERMISSION_DENIED = 1004
FEATURE_DISABLED = 1005
CUSTOMER_UNAUTHORIZED = 1006
REQUEST_LIMIT_EXCEEDED = 1007
RESOURCE_CONFLICT = 1008
UNPARSEABLE_HTTP_ERROR = 1009
NOT_IMPLEMENTED = 1010
DATA_LOSS = 1011
INVALID_STATE_TRANSITION = 2001
COULD_NOT_ACQUIRE_LOCK = 2002
RESOURCE_ALREADY_EXISTS = 3001
RESOURCE_DOES_NOT_EXIST = 3002
QUOTA_EXCEEDED = 4001
