"""Where a run's outputs land: one folder, passed in explicitly (KerasTuner's `directory=`).

    workspace = Workspace("studies")          # the default, relative to the working directory
    workspace.storage_url()                   # sqlite:///studies/hpo.db
    workspace.run_dir("default")              # studies/default: screen.html, optimize.html, samples
    workspace.artifacts_dir                   # studies/artifacts: each study's best model
    workspace.data_dir                        # studies/data: the embedded dataset, generated once

The library never reads the environment for it: the CLIs resolve `--home`, then `$HPO_HOME`, then
the default (`hpo.cli.workspace_from_args`) and pass the Workspace in the configs, so two runs with
different folders can share one process, and tests and benchmarks pass a folder instead of editing
`os.environ`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Relative to the working directory, so a checkout is self-contained (studies/ is git-ignored).
DEFAULT_ROOT = Path("studies")


@dataclass(frozen=True)
class Workspace:
    """The folder of studies, artifacts, reports and generated data."""

    root: Path = DEFAULT_ROOT

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def data_dir(self) -> Path:
        """Generated datasets (the embedded Rayleigh-Benard data), cached across runs."""
        return self.root / "data"

    @property
    def artifacts_dir(self) -> Path:
        """Optuna's file-system artifact store: each study's best model."""
        return self.root / "artifacts"

    def run_dir(self, run: str) -> Path:
        """One run's reports, tables and samples (`--run NAME`)."""
        return self.root / run

    def keras_tuner_dir(self, run: str) -> Path:
        """KerasTuner's own state for a run (its `directory=`), so a re-run resumes."""
        return self.run_dir(run) / "keras-tuner"

    def storage_url(self) -> str:
        """The embedded default storage: SQLite in the workspace, no server needed."""
        return f"sqlite:///{self.root / 'hpo.db'}"
