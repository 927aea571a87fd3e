"""The README's Python example runs as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=os.environ
        )
        assert result.returncode == 0, result.stderr


def test_readme_main_job_runs_and_writes_hdr10(tmp_path):
    """The first command of the README, minus its venv and install steps (CI has done those)."""
    first = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)[0].strip()
    steps = [step.strip() for step in first.split("&&")]
    job = " && ".join(step for step in steps if step.startswith("hdrtv"))
    assert "hdrtv convert" in job
    result = subprocess.run(job, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=color_transfer,codec_name",
            "-of",
            "csv=p=0",
            str(tmp_path / "demo-hdr10.mkv"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().strip(",") == "hevc,smpte2084"
