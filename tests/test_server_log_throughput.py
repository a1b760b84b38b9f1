"""benchmarks/server_log_throughput.py: llama-server timing lines summed per window."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.server_log_throughput import format_table, main, windows

LOG = """\
0.21.357.437 I slot print_timing: id  4 | task 1 | prompt eval time =    3550.85 ms /   270 tokens (   13.15 ms per token,    76.04 tokens per second)
0.21.357.483 I slot print_timing: id  4 | task 1 |        eval time =   12992.65 ms /   176 tokens (   74.24 ms per token,    13.47 tokens per second)
0.21.357.500 I slot print_timing: id  4 | task 1 |    graphs reused =       5139
1.05.000.000 I slot print_timing: id  2 | task 2 | prompt eval time =     450.00 ms /    30 tokens (   15.00 ms per token,    66.67 tokens per second)
1.05.000.100 I slot print_timing: id  2 | task 2 |        eval time =    7007.35 ms /    64 tokens (  109.49 ms per token,     9.13 tokens per second)
3.59.100.000 I srv  update_slots: all slots are idle
4.10.000.000 I slot print_timing: id  1 | task 3 | prompt eval time =     100.00 ms /    12 tokens (    8.33 ms per token,   120.00 tokens per second)
4.10.000.100 I slot print_timing: id  1 | task 3 |        eval time =    1000.00 ms /    12 tokens (   83.33 ms per token,    12.00 tokens per second)
"""


def test_windows_sum_prompt_and_generation_per_window() -> None:
    table = windows(LOG.splitlines(), minutes=2)
    first, second = table.itertuples()
    assert (first.start_min, first.requests, first.prompt_tokens, first.generated_tokens) == (0, 2, 300, 240)
    assert first.generated_tokens_per_s == pytest.approx(240 / 120)
    assert first.per_stream_tokens_per_s == pytest.approx(240 / (12.99265 + 7.00735))
    assert (second.start_min, second.requests, second.generated_tokens) == (4, 1, 12)  # minutes 2-3 had no timing
    assert "| 0-2 | 2 | 2.5 | 2.0 | 12.0 |" in format_table(table)


def test_a_window_under_a_minute_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one minute"):
        windows([], minutes=0)


def test_the_command_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "server.log"
    log.write_text(LOG)
    main([str(log), "--window", "5"])
    assert capsys.readouterr().out.splitlines()[2] == "| 0-5 | 3 | 1.0 | 0.8 | 12.0 |"
