"""One writer per run directory: a second process is refused at once and told who holds the directory; a
killed holder leaves no lock behind (issue 11, point 2)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from manticore.cli import main
from manticore.errors import RunDirectoryBusy
from manticore import rundir

HOLDER = textwrap.dedent("""
    import sys, time
    from manticore import rundir
    with rundir.exclusive(sys.argv[1]):
        print("holding", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding tmp_path/run's lock; killed (SIGKILL) at the end if still alive."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    yield process
    process.kill()
    process.wait()


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    with pytest.raises(RunDirectoryBusy, match=rf"run is being written by another run \(.*\"pid\": {holder.pid}"):
        with rundir.exclusive(tmp_path / "run"):
            pass


def test_the_cli_refuses_in_one_line(tmp_path, holder, capsys):
    assert main(["quickstart", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "is being written by another run" in err and str(holder.pid) in err and "Traceback" not in err


def test_a_killed_holders_lock_is_taken_over(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "run" / rundir.LOCK).exists()  # the file stays; the lock went with the process
    with rundir.exclusive(tmp_path / "run"):
        assert str(os.getpid()) in (tmp_path / "run" / rundir.LOCK).read_text()


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path):
    with rundir.exclusive(tmp_path / "run"):
        with rundir.exclusive(tmp_path / "run"):  # a workflow's stages inside the workflow's lock
            pass
    with rundir.exclusive(tmp_path / "run"):  # released: taken again
        pass


def test_an_out_dir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="can't be a run directory: it .* is a file"):
        with rundir.exclusive(tmp_path / "file"):
            pass
