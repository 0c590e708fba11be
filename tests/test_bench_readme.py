"""The README's measured figures are generated from bench/results/*.json (bench/readme.py), and
every benchmark takes the same --quick and --out flags that `python -m bench --quick` passes."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import readme
from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]


def test_readme_figures_match_the_committed_json():
    assert readme.main(["--check"]) == 0


def test_a_figure_edited_by_hand_or_a_changed_json_is_caught(tmp_path):
    """The check can fail: a README whose table disagrees with its JSON, and JSON that changed."""
    edited = tmp_path / "README.md"
    text = readme.README.read_text()
    generate = json.loads((readme.RESULTS / "generate.json").read_text())
    shown = f"| {generate['results'][0]['case_cpu_s_sum']:.1f} |"
    assert shown in text  # the block shows the JSON's figure...
    edited.write_text(text.replace(shown, "| 0.1 |", 1))
    assert readme.main(["--check", "--readme", str(edited)]) == 1  # ...and a hand edit is caught

    results = tmp_path / "results"
    shutil.copytree(readme.RESULTS, results)
    generate["results"][0]["case_cpu_s_sum"] = 1234.5
    (results / "generate.json").write_text(json.dumps(generate))
    assert readme.main(["--check", "--results", str(results)]) == 1
    assert readme.main(["--results", str(results), "--readme", str(edited)]) == 0
    assert "| 1234.5 |" in edited.read_text()  # rewritten from the new JSON


def test_a_block_without_renderer_is_an_error(tmp_path):
    edited = tmp_path / "README.md"
    edited.write_text(
        readme.README.read_text() + "\n<!-- bench:nonsense -->\n<!-- /bench:nonsense -->\n"
    )
    with pytest.raises(SystemExit, match="nonsense"):
        readme.main(["--check", "--readme", str(edited)])


def _has_main(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def test_python_m_bench_runs_every_benchmark_with_uniform_flags():
    modules = {
        f"bench.{path.stem}"
        for path in (ROOT / "bench").glob("*.py")
        # bench.gpu runs on a lent GPU machine through bench/gpu.sh, not in `python -m bench`.
        if path.stem
        not in ("__main__", "__init__", "readme", "campaign", "machine", "snapshot", "gpu")
        and _has_main(path)
    } | {f"bench.{main.parent.name}" for main in (ROOT / "bench").glob("*/__main__.py")}
    listed = {module for module, _ in BENCHMARKS}
    assert modules == listed, f"benchmarks not run by `python -m bench`: {modules - listed}"
    for module in sorted(listed):
        usage = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert usage.returncode == 0, usage.stderr
        flags = set(re.findall(r"--[a-z][a-z-]*", usage.stdout))
        assert {"--quick", "--out"} <= flags, f"{module} takes {sorted(flags)}"
