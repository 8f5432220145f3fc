"""Cold start of the `handler` binary in Lambda mode, under cargo-lambda's emulator.

`cargo lambda watch --only-lambda-apis` serves the Lambda runtime API and function URLs on
loopback without starting a function; this script starts the release `handler` itself with
the environment Lambda gives a function (AWS_LAMBDA_RUNTIME_API and friends), so the time
measured is the process's own: spawn -> the first function-URL answer of /api/v1/health,
and spawn -> the end of the first TTS answer ("Hello world."), lazy and with SPEECH_PRELOAD,
a fresh process each run. Prints a markdown table (median and range), in the format of
the cold-start table of tests/benches/piper_service/; `just bench` writes it into
docs/benchmarks.md.

Usage: python3 bench/lambda_cold_start.py CARGO_LAMBDA HANDLER MODELS_DIR [RUNS]
(scripts/bench.sh runs it with the release binary and .venv-lambda's cargo-lambda).
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline_s=60):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the emulator did not listen on {port}")


def request(url, body=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        payload = answer.read()
        if answer.status != 200:
            raise SystemExit(f"{url}: {answer.status}")
        return payload


def one_run(handler, models_dir, port, preload):
    storage = tempfile.mkdtemp(prefix="lambda-cold-")
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("SPEECH_"):
            del env[name]
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt",
            "AWS_LAMBDA_FUNCTION_NAME": "_",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096",
            "SPEECH_STORAGE": f"file://{storage}",
            "SPEECH_MODELS_DIR": models_dir,
            "SPEECH_LOG": "warn",
            "SPEECH_PRELOAD": "true" if preload else "false",
        }
    )
    base = f"http://127.0.0.1:{port}/lambda-url/_"
    spawned = time.perf_counter()
    child = subprocess.Popen(
        [handler], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # The emulator holds the invocation until the runtime asks for its next event.
        request(f"{base}/api/v1/health")
        health = time.perf_counter() - spawned
        audio = request(
            f"{base}/api/v1/tts", {"text": "Hello world.", "export_formats": ["wav"]}
        )
        if audio[:4] != b"RIFF":
            raise SystemExit("the first answer is not a WAV file")
        first_audio = time.perf_counter() - spawned
    finally:
        child.kill()
        child.wait()
    return health, first_audio


def main():
    cargo_lambda, handler, models_dir = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    port = free_port()
    emulator = subprocess.Popen(
        [cargo_lambda, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        one_run(handler, models_dir, port, False)  # warm the page cache, not measured
        rows = {False: ([], []), True: ([], [])}
        for _ in range(runs):
            for preload in (False, True):
                health, audio = one_run(handler, models_dir, port, preload)
                rows[preload][0].append(health)
                rows[preload][1].append(audio)
    finally:
        emulator.kill()
        emulator.wait()

    def cell(values):
        ms = [v * 1000 for v in values]
        return f"{statistics.median(ms):,.0f} ms ({min(ms):,.0f}-{max(ms):,.0f})"

    print(
        f"Cold start of `handler` in Lambda mode under cargo-lambda's emulator (function URL), "
        f"spawn to the first answers, median of {runs} fresh processes (range), idle:"
    )
    print()
    print('| binary | spawn to first 200 (health) | spawn to end of first TTS answer, "Hello world." |')
    print("|---|---:|---:|")
    for preload, label in (
        (False, "`handler` in Lambda mode under cargo-lambda's emulator, defaults"),
        (True, "`handler` in Lambda mode, `SPEECH_PRELOAD=true` (engine loaded in the init phase)"),
    ):
        print(f"| {label} | {cell(rows[preload][0])} | {cell(rows[preload][1])} |")
    print()


if __name__ == "__main__":
    main()
