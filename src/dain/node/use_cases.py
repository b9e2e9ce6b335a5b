"""The use-case templates: a job file and the data to run it, for a requester to start
from (`dain data sample NAME --out DIR`)."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from dain.data import USE_CASES, UseCaseData, write_use_case_data
from dain.errors import ConfigError
from dain.node.job_file import JobPlan, load_job_file

# the bundled dataset each use case's data is drawn from (what the simulator trains on)
SIM_DATASETS = {"imaging": "digits", "smart_city": "smart_city", "fraud": "card_fraud"}


def template_text(name: str) -> str:
    """The job file of a use case, as shipped in the package."""
    if name not in USE_CASES:
        raise ConfigError(f"There is no use case '{name}'.", hint=f"Use one of {USE_CASES}.")
    return (resources.files("dain.node") / "job_templates" / f"{name}.toml").read_text()


def write_use_case(name: str, out: Path, owners: int = 3, seed: int = 0) -> tuple[Path,
                                                                                  UseCaseData]:
    """Writes the use case's job file (out/job.toml, its evaluation data beside it) and one
    data share per owner; returns the job file and where the data went."""
    job = out / "job.toml"
    if job.exists():
        raise ConfigError(f"{job} exists already.", hint="Write the use case to a new folder.")
    text = template_text(name)
    data = write_use_case_data(name, out, owners, seed)
    job.write_text(text)
    return job, data


def template_plan(name: str) -> JobPlan:
    """The use case's job file as its requester would read it (its data written to a
    scratch folder for the standardization statistics, then removed)."""
    with tempfile.TemporaryDirectory() as scratch:
        job, _ = write_use_case(name, Path(scratch) / name, owners=1)
        return load_job_file(job)
