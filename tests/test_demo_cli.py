"""``python -m skbait demo``: bad arguments are refused by the demo's parser, before work."""

import os
import subprocess
import sys

import pytest

import skbait.__main__ as cli
from skbait.experiment import _demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_USAGE = "usage: python -m skbait demo"


@pytest.fixture
def no_work(monkeypatch):
    """Make loading the data or starting the demo fail the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the demo started before its arguments were checked")

    monkeypatch.setattr(_demo, "load_representations", refuse)
    monkeypatch.setattr(_demo, "run_demo", refuse)


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "argument --jobs: 0 workers has no meaning"),
    (["--jobs", "two"], "argument --jobs: expected an integer"),
    (["--seeds", "1"], "argument --seeds: must be at least 2"),
    (["--seeds", "-3"], "argument --seeds: must be at least 2"),
    (["--seeds", "2.5"], "argument --seeds: expected an integer"),
    (["--quick", "--seeds", "0"], "argument --seeds: must be at least 2"),
])
def test_bad_arguments_are_refused_with_the_demos_usage(argv, message, no_work, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", *argv])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(DEMO_USAGE)
    assert message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_an_output_path_that_is_a_file_is_refused(tmp_path, no_work, capsys):
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--out", str(taken)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(DEMO_USAGE) and "exists and is not a folder" in err


def test_good_arguments_reach_the_demo(monkeypatch, capsys):
    seen = {}

    def run_demo(**kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(_demo, "run_demo", run_demo)
    with pytest.raises(SystemExit):
        cli.main(["demo", "--seeds", "3", "--jobs", "-2", "--out", "somewhere"])
    assert (seen["seeds"], seen["n_jobs"], seen["out"]) == (3, -2, "somewhere")


def test_module_refuses_zero_jobs_before_starting():
    done = subprocess.run([sys.executable, "-m", "skbait", "demo", "--jobs", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith(DEMO_USAGE)
    assert "--jobs" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # the demo announces each experiment as it starts it


@pytest.mark.parametrize("kwargs, match", [
    (dict(seeds=1), "seeds must be an int >= 2"),
    (dict(seeds=2.5), "seeds must be an int >= 2"),
    (dict(n_jobs=0), "n_jobs must be"),
    (dict(dataset="iris"), "Unknown dataset 'iris'"),
])
def test_run_demo_checks_its_arguments_before_loading(kwargs, match, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data were loaded before the arguments were checked")

    monkeypatch.setattr(_demo, "load_representations", refuse)
    with pytest.raises(ValueError, match=match):
        _demo.run_demo(out=str(tmp_path / "out"), progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_run_demo_fails_on_an_unusable_folder_before_loading(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data were loaded before the folder was made")

    monkeypatch.setattr(_demo, "load_representations", refuse)
    taken = tmp_path / "file"
    taken.write_text("")
    pytest.importorskip("matplotlib")
    with pytest.raises(FileExistsError):
        _demo.run_demo(out=str(taken), progress=False)
