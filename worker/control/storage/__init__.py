"""Object storage by URI (`s3://`, `file://`): `ObjectStore` checks the policy and hands each
request to a backend (`backend.ObjectBackend`); only the backends talk to boto3."""
