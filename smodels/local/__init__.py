"""Local mode: every endpoint of a stack on this machine, without cloud credentials (`smodels serve`, `smodels smoke`).

- `stack.LocalStack`       the context manager both commands share: build for the host, start the emulators,
                           upload the models, run the Lambda workers and Cloud Functions, wait, stop.
- `lambda_runtime`         the Lambda Runtime API awslambdaric talks to, and the worker pool.
- `front`, `apigw`         the HTTP API stage in front of the Lambdas (payload format 2.0 both ways).
- `access`                 what the clouds check before a private function runs: SigV4 on the AWS front (the
                           stack's key pair), ID tokens of the stack's own issuer on the Cloud Run fronts
                           (`cloud_functions.CloudRunFront`), for the deployer, `invokers`, the runtime account.
- `emulators`              moto (S3) and gcp-storage-emulator (GCS) as child processes.
- `iam`                    IAM enforced on the local S3: the program's roles, publisher and policies (infra/policies.py)
                           created in moto, its checks turned on; each Lambda runs with its role's session.
- `notifier`               the storage trigger of `refresh: pointer` endpoints: a change of the pointer object
                           reaches the function (an S3 event on AWS, a Pub/Sub push to `/_refresh` on GCP).
- `versions`               a version number per function configuration, as Lambda publishes (`versions.json`).
- `procs`                  child processes in their own process groups, stopped for sure.
- `smoke`                  the book's requests and their checks, for a local or a deployed stack.
- `cli`                    registers `serve` and `local-token` with `smodels` (`smoke` registers itself).
"""

from smodels.local.stack import LocalEndpoint, LocalStack, LocalStackError

__all__ = ["LocalEndpoint", "LocalStack", "LocalStackError"]
