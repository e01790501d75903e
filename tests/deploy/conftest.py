"""Fixtures of the deployment tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import compose as cf

GENERATED_MOUNT = "/generated"


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """Run the `generate` service's script for real: /etc/infermeter -> deploy/compose, /generated -> tmp."""
    service = cf.load_compose()["services"]["generate"]
    script = cf.shell_script(service)
    assert script, "the generate service is not a shell script"
    out = tmp_path_factory.mktemp("generated")
    env = {**os.environ, **cf.environment(service)}
    env["CONFIG"] = str(cf.host_path(service, env["CONFIG"]))
    assert cf.environment(service)["OUT"] == GENERATED_MOUNT
    assert any(m.target == GENERATED_MOUNT and m.named for m in cf.mounts(service))
    env["OUT"] = str(out)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("INFERMETER_CONFIG", None)
    proc = subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"generate failed:\n{proc.stdout}\n{proc.stderr}"
    return out
