"""The engine's command line: python -m simulator."""

import json
import os
import subprocess
import sys

from simulator.cli import main


def test_run_prints_the_seed_and_the_requested_reports(capsys):
    assert main(["run", "lru_only", "--seed", "7", "--report", "buddyinfo,extfrag"]) == 0
    out = capsys.readouterr().out
    assert "seed: 7" in out and "profile: v6.18" in out
    assert "# buddyinfo\nNode 0, zone   Normal " in out
    assert "# extfrag\nNode 0, zone   Normal " in out


def test_json_output_carries_the_engine_version_and_metrics(capsys):
    assert (
        main(["run", "zsmalloc_eagain_storm", "--json", "--report", "vmstat", "--profile", "v4.8"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["engine_version"] and doc["seed"] == 1 and doc["profile"] == "v4.8"
    assert doc["metrics"]["eagain"]["zsmalloc"] > 0
    assert doc["reports"]["vmstat"].startswith("pgmigrate_success ")


def test_bad_scenario_file_exits_non_zero_naming_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[memory]\nzones = [{ name = "Normal", pages = 100 }]\n')
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "memory.zones[0].pages" in err and "1024" in err


def test_unknown_report_and_seed_out_of_range_are_rejected(capsys):
    assert main(["run", "lru_only", "--report", "meminfo"]) == 2
    assert "--report" in capsys.readouterr().err
    assert main(["run", "lru_only", "--seed", "-1"]) == 2
    assert "--seed" in capsys.readouterr().err
    assert main(["run", "lru_only", "--max-ticks", "0"]) == 2
    assert "--max-ticks: must be from 1 to 1000000000" in capsys.readouterr().err


def _module(*args: str) -> subprocess.CompletedProcess:
    """`python -m simulator ARGS` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args], capture_output=True, text=True, timeout=120
    )


def test_module_entry_point_works_as_documented():
    r = _module("run", "lru_only", "--report", "vmstat")
    assert r.returncode == 0, r.stderr
    assert "pgmigrate_success" in r.stdout and "seed: 1" in r.stdout
    r = _module("run", "nope")
    assert r.returncode == 2 and "neither a file nor a preset" in r.stderr


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    """`python -m simulator run ... | head -1`: no traceback when the pipe closes."""
    # a trace of ~170 KB: more than the pipe holds (64 KB), so the writer is still
    # writing when the reader goes away, however fast it runs. Run as from a shell: with
    # PYTHONUNBUFFERED (as under this test runner) a write cut short by the reader going
    # away would drop the rest silently instead of failing
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "run", "direct_compaction", "--report", "trace"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # the reader takes the first line only, not a buffer's worth
        env=env,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away with most of the trace unread
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"pagemig ")
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 141


def test_bench_prints_a_row_per_size_with_the_first_run_and_the_reference_ratio():
    # in a process of its own: the bench changes how the C library keeps freed memory
    r = _module("bench", "--sizes", "0.0625", "--reference")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "freed memory stays in this process" in out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("0.0625Gi"))
    assert row.split()[1] == "16384" and row.endswith("x")
    assert "first run at this size (cold heap): " in out
    assert "per-page reference: " in out and "x faster" in out


def test_bench_rejects_a_size_out_of_range(capsys):
    assert main(["bench", "--sizes", "128"]) == 2
    err = capsys.readouterr().err
    assert "--sizes" in err and "0.0625 to 64 GiB" in err and "128" in err
