"""schemathesis with every check it has (`--checks all`) against the running service: the API under
`hdrtv serve` with its redis-server and moto's S3, over HTTP, as a client sees it. Its one
configured expectation (a 422 for schema-valid URIs that the store's rules refuse) is explained in
schemathesis.toml beside this file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import servers

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def test_schemathesis_with_all_checks_finds_nothing_against_the_running_service(s3_server, tmp_path):
    with servers.hdrtv_api(tmp_path, s3_server, "schema") as (api, key, _, _):
        argv = [SCHEMATHESIS, "--config-file", str(CONFIG), "run", f"{api}/openapi.json", "--checks", "all"]
        argv += ["--header", f"Authorization: Bearer {key}", "--max-examples", "30", "--no-color"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert re.search(r"(\d+) generated, \1 passed", done.stdout), done.stdout[-3000:]  # every case passed
