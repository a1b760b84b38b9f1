"""Issue 27 item 8: one owner per log_dir (filelock); a second search gets a clear error naming the holder's pid,
and a lock left by a killed process is taken over."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading

import dspy
import pytest

from gepa_dspy import GEPA
from gepa_dspy.engine.log_dir_lock import LogDirBusyError, OWNER_FILE

from .scripted_lm import ScriptedLM
from .toy_task import CleanThenShout, make_examples, metric, reflection_responder, task_responder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HOLDER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.path.insert(0, {root!r})
    from gepa_dspy.engine.log_dir_lock import exclusive_log_dir
    with exclusive_log_dir(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(120)
""")


def hold_in_subprocess(log_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=ROOT), str(log_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def compile_in(log_dir, budget=30, task=None):
    dspy.configure(lm=task or ScriptedLM(task_responder))
    examples = make_examples()
    return GEPA(metric, max_metric_calls=budget, reflection_lm=ScriptedLM(reflection_responder), track_stats=True,
                log_dir=str(log_dir), use_merge=False).compile(CleanThenShout(), trainset=examples[:8], valset=examples[8:])


def test_a_second_compile_on_a_held_log_dir_names_the_holder_and_pays_nothing(tmp_path):
    proc = hold_in_subprocess(tmp_path)
    try:
        task = ScriptedLM(task_responder)
        with pytest.raises(LogDirBusyError, match=f"pid {proc.pid}"):
            compile_in(tmp_path, task=task)
        assert task.calls == 0
        assert not (tmp_path / "evaluations.jsonl").exists()
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, caplog):
    proc = hold_in_subprocess(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / OWNER_FILE).exists()  # the killed holder never cleaned up
    with caplog.at_level(logging.WARNING, logger="gepa_dspy"):
        program = compile_in(tmp_path)
    assert program.detailed_results.total_metric_calls <= 30
    assert f"pid {proc.pid}" in caplog.text and "took over" in caplog.text
    assert not (tmp_path / OWNER_FILE).exists()  # released when the compile ended


def test_two_compiles_at_once_in_one_process_do_not_both_pay(tmp_path):
    started, release = threading.Event(), threading.Event()

    def slow(messages):
        started.set()
        release.wait(30)
        return task_responder(messages)

    results: dict = {}

    def first():
        with dspy.context(lm=ScriptedLM(slow)):
            results["first"] = GEPA(metric, max_metric_calls=30, reflection_lm=ScriptedLM(reflection_responder),
                                    track_stats=True, log_dir=str(tmp_path), use_merge=False).compile(
                CleanThenShout(), trainset=make_examples()[:8], valset=make_examples()[8:])

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(30)
        with pytest.raises(LogDirBusyError, match=f"pid {os.getpid()}"):
            GEPA(metric, max_metric_calls=30, reflection_lm=ScriptedLM(reflection_responder), log_dir=str(tmp_path),
                 use_merge=False).compile(CleanThenShout(), trainset=make_examples()[:8], valset=make_examples()[8:])
    finally:
        release.set()
        thread.join(60)
    assert results["first"].detailed_results.total_metric_calls <= 30
