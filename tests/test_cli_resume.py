"""Ctrl-C in the command line: a clean stop, a checkpoint, a resume hint, and a bit-identical resume.

The interrupted run is the installed script in a subprocess (it receives the real SIGINT); the printed resume command
and the uninterrupted run for comparison call ``gdlearn.cli.main`` in this process (``tests/_cli.py``).
"""

import os
import shlex
import signal
import subprocess
import time

import numpy as np
from _cli import EXE, interruptible, run_inprocess

import gdlearn
from gdlearn.checkpoint import read_checkpoint

ARGS = ["train", "housing", "--solver", "gd", "--learning-rate", "1e-6", "--tol", "0",
        "--checkpoint", "run.ckpt", "--checkpoint-every", "50", "--quiet", "--out", "m.json"]  # fmt: skip
# The interrupted run cannot finish before the signal, however late it comes: the resume then stops a few
# iterations past the saved one (max_iter may change on resume), and the straight run goes to the same iteration.
ENDLESS = ["--max-iter", "10000000"]  # the largest allowed


def test_ctrl_c_saves_checkpoint_and_resume_matches_uninterrupted_run(tmp_path):
    interrupted = tmp_path / "interrupted"
    straight = tmp_path / "straight"
    interrupted.mkdir()
    straight.mkdir()

    proc = subprocess.Popen(
        [EXE, *ARGS, *ENDLESS], cwd=interrupted, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,  # receives SIGINT even when this process was started with it ignored
    )  # fmt: skip
    # the signal to interrupt: a checkpoint of at least 200 iterations exists (written atomically, so never partial)
    deadline = time.monotonic() + 120
    while not (
        (interrupted / "run.ckpt").exists()
        and read_checkpoint(interrupted / "run.ckpt")[0]["state"]["iteration"] >= 200
    ):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the training made no progress"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupted at iteration" in err and "Traceback" not in err
    hint = err.split("Resume with: ", 1)[1].strip()
    assert hint.endswith("--resume")
    assert (interrupted / "run.ckpt").exists() and not (interrupted / "m.json").exists()
    end = read_checkpoint(interrupted / "run.ckpt")[0]["state"]["iteration"] + 100
    assert end >= 300  # the file held at least 200 iterations

    # the printed command resumes the run
    argv = shlex.split(hint)
    assert argv[0] == "gdlearn" and argv[-1] == "--resume" and " ".join(ENDLESS) in hint
    run_inprocess(*argv[1:], "--max-iter", str(end), cwd=interrupted)  # asserts status 0
    assert not (interrupted / "run.ckpt").exists()  # a finished run removes its checkpoint

    run_inprocess(*ARGS, "--max-iter", str(end), cwd=straight)
    a, b = gdlearn.load(interrupted / "m.json"), gdlearn.load(straight / "m.json")
    assert np.array_equal(a.coef_, b.coef_) and a.intercept_ == b.intercept_  # exact: arrays stored byte for byte
    assert a.loss_curve_ == b.loss_curve_
    assert a.n_iter_ == end
    assert os.listdir(straight) == ["m.json"]
