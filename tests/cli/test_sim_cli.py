"""`dain sim` runs a simulation with a progress bar and writes its results as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _dain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dain", *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_sim_writes_accuracy_per_round(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    run = _dain("sim", "--dataset", "wine", "--clients", "30", "--rounds", "3",
                "--partition", "dirichlet", "--strategy", "trimmedmean", "--attack",
                "sign_flip", "--attackers", "0.1", "--json", str(out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert len(result["accuracy"]) == 3 and result["config"]["clients"] == 30
    assert "30 clients, 3 rounds, trimmedmean on wine" in run.stdout


def test_sim_names_bad_settings_without_a_traceback() -> None:
    run = _dain("sim", "--strategy", "fedmagic")
    assert run.returncode == 1
    assert "strategy must be one of" in run.stderr and "Traceback" not in run.stderr
    run = _dain("sim", "--hidden", "6x4")
    assert run.returncode == 1 and "is not a list of widths" in run.stderr
    run = _dain("sim", "--attackers", "0.3")  # was silently a run with no attack
    assert run.returncode == 1 and "names no attack" in run.stderr and "--attack" in run.stderr
    run = _dain("sim", "--attack", "sign_flip")
    assert run.returncode == 1 and "no attackers" in run.stderr


def test_sim_with_client_level_privacy_reports_epsilon(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    run = _dain("sim", "--dataset", "breast_cancer", "--hidden", "", "--clients", "20",
                "--rounds", "2", "--privacy", "client", "--noise-multiplier", "1.1", "--clip",
                "0.1", "--json", str(out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["config"]["privacy"]["level"] == "client" and result["epsilon"] > 0
    assert "Epsilon" in run.stdout
    run = _dain("sim", "--privacy", "record")
    assert run.returncode == 1 and "dain demo --secure" in run.stderr


def test_sim_runs_a_use_case_template_with_its_model(tmp_path: Path) -> None:
    out = tmp_path / "cnn.json"
    run = _dain("sim", "--template", "imaging", "--clients", "10", "--rounds", "3", "--json",
                str(out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["accuracy"][-1] > 0.8  # the template's CNN, not the default MLP
    assert "on digits" in run.stdout
    fraud = _dain("sim", "--template", "fraud", "--clients", "5", "--rounds", "2")
    assert fraud.returncode == 0, fraud.stderr
    assert "Balanced accuracy" in fraud.stdout and "ROC AUC" in fraud.stdout
    unknown = _dain("sim", "--template", "genomics")
    assert unknown.returncode == 1 and "no use case 'genomics'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
