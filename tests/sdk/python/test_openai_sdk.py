"""OpenAI Python SDK conformance tests for the speech server's OpenAI-compatible endpoints.

The contract is shared/spec/openai-speech.md: `POST /v1/audio/speech` (also answered at
`/audio/speech`), `GET /v1/models` and `GET /v1/audio/voices`, with OpenAI's error body
`{"error": {"message", "type", "param", "code"}}`.

Run against any server with `python -m pytest tests/sdk/python`, given
  OPENAI_BASE_URL   the base URL including /v1, e.g. http://127.0.0.1:7860/v1 (required:
                    the tests refuse to fall back to api.openai.com)
  OPENAI_API_KEY    a key the server accepts (default sk-test-123)
  SDK_TEST_MODEL    the model for most tests (default tts-1)
  SDK_TEST_SSE_MODEL the model for the SSE test (default piper: OpenAI documents SSE as
                    unsupported for tts-1 / tts-1-hd)
  SDK_TEST_VOICE    a voice the server has (default alloy)
scripts/run-sdk-tests.sh starts a local-runner and sets these.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

API_KEY = os.environ.get("OPENAI_API_KEY", "sk-test-123")
MODEL = os.environ.get("SDK_TEST_MODEL", "tts-1")
SSE_MODEL = os.environ.get("SDK_TEST_SSE_MODEL", "piper")
VOICE = os.environ.get("SDK_TEST_VOICE", "alloy")
TIMEOUT_S = 120.0
PCM_RATE = 24_000  # pcm = raw 24 kHz signed 16-bit little-endian mono

SHORT = "Hello from the conformance tests."
TEN_SENTENCES = " ".join(
    [
        "The first sentence is short.",
        "Here comes the second one.",
        "A third sentence follows them.",
        "The fourth keeps the stream going.",
        "Number five is right in the middle.",
        "Six sentences are more than half.",
        "The seventh is nearly the last.",
        "Eight of ten are now spoken.",
        "The ninth sentence is almost done.",
        "And the tenth one ends the test.",
    ]
)


def base_url() -> str:
    url = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
    if not url:
        pytest.fail(
            "OPENAI_BASE_URL is not set (e.g. http://127.0.0.1:7860/v1); "
            "run scripts/run-sdk-tests.sh or export it",
            pytrace=False,
        )
    return url


def make_client(**kwargs) -> OpenAI:
    options = {"base_url": base_url(), "api_key": API_KEY, "max_retries": 0, "timeout": TIMEOUT_S}
    options.update(kwargs)
    return OpenAI(**options)


@pytest.fixture(scope="module")
def client() -> OpenAI:
    with make_client() as c:
        yield c


# ---- container sniffing --------------------------------------------------------------


def is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def assert_audio(data: bytes, fmt: str) -> None:
    """Asserts that `data` is a non-empty file of the container `fmt`."""
    assert len(data) > 0, f"{fmt}: empty body"
    head = data[:64]
    if fmt == "mp3":
        assert is_mp3(data), f"mp3: neither ID3 nor MPEG frame sync: {head[:16]!r}"
    elif fmt == "opus":
        assert data[:4] == b"OggS", f"opus: no OggS page: {head[:16]!r}"
        assert b"OpusHead" in head, f"opus: first Ogg page has no OpusHead: {head!r}"
    elif fmt == "flac":
        assert data[:4] == b"fLaC", f"flac: no fLaC marker: {head[:16]!r}"
    elif fmt == "wav":
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"wav: no RIFF....WAVE: {head[:16]!r}"
    elif fmt == "aac":
        # ADTS: a 12-bit sync word, then MPEG-4 (0xFFF1) or MPEG-2 (0xFFF9) without CRC.
        assert data[:2] in (b"\xff\xf1", b"\xff\xf9"), f"aac: no ADTS sync word: {head[:16]!r}"
    elif fmt == "pcm":
        assert data[:4] != b"RIFF", "pcm must be raw samples, not a WAV file"
        assert len(data) % 2 == 0, f"pcm: odd length {len(data)} (not 16-bit samples)"
        samples = struct.unpack(f"<{len(data) // 2}h", data)
        assert max(abs(s) for s in samples) > 0, "pcm: all samples are zero"
    else:
        raise AssertionError(f"unknown format {fmt}")


# What each format's Content-Type may be (spec 4.2; opus and pcm are not pinned down).
CONTENT_TYPES = {
    "mp3": {"audio/mpeg", "audio/mp3"},
    "opus": {"audio/opus", "audio/ogg"},
    "flac": {"audio/flac", "audio/x-flac"},
    "aac": {"audio/aac"},
    "wav": {"audio/wav", "audio/x-wav", "audio/wave"},
    "pcm": {"audio/pcm", "audio/l16", "application/octet-stream"},
}


def assert_content_type(headers, fmt: str) -> None:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    assert ctype in CONTENT_TYPES[fmt], f"{fmt}: unexpected Content-Type {ctype!r}"


def pcm_seconds(data: bytes) -> float:
    return len(data) / 2 / PCM_RATE


def ffmpeg() -> str:
    """The ffmpeg the setup step fetches (SDK_TEST_FFMPEG, set by scripts/run-sdk-tests.sh)."""
    path = os.environ.get("SDK_TEST_FFMPEG", "")
    assert path and os.access(path, os.X_OK), (
        f"SDK_TEST_FFMPEG ({path!r}) is not an executable ffmpeg: run scripts/run-sdk-tests.sh"
    )
    return path


def decoded_seconds(data: bytes, fmt: str) -> float:
    """Decodes `data` (any container but raw pcm) with ffmpeg and returns its length: the
    body must be whole, playable audio, not only the right first bytes."""
    if fmt == "pcm":
        return pcm_seconds(data)
    done = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(PCM_RATE), "pipe:1"],
        input=data,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"{fmt}: ffmpeg could not decode it: {done.stderr.decode(errors='replace')}"
    return pcm_seconds(done.stdout)


def error_body(exc: openai.APIStatusError) -> dict:
    """The raw `error` object of an SDK error, checked for OpenAI's four required keys."""
    return checked_error(exc.response.json())


def checked_error(body: dict) -> dict:
    assert set(body) == {"error"}, f"error body must be {{'error': {{...}}}}, got {body}"
    error = body["error"]
    missing = {"message", "type", "param", "code"} - set(error)
    assert not missing, f"error object lacks {sorted(missing)}: {error}"
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    return error


def assert_bad_request(exc: openai.BadRequestError, param: str) -> None:
    assert exc.status_code == 400
    error = error_body(exc)
    # The SDK fills .param / .type / .code from body["error"].
    assert exc.param == param, f"param should be {param!r}: {error}"
    assert error["param"] == param
    assert exc.type == "invalid_request_error", error


def speech(client: OpenAI, **kwargs):
    """A buffered speech request with the test defaults."""
    args = {"model": MODEL, "voice": VOICE, "input": SHORT}
    args.update(kwargs)
    return client.audio.speech.create(**args)


# ---- adjacent endpoints --------------------------------------------------------------


def test_models_list(client: OpenAI) -> None:
    raw = client.models.with_raw_response.list()
    body = raw.http_response.json()
    assert body["object"] == "list"
    for model in body["data"]:
        assert model["object"] == "model"
        assert isinstance(model["id"], str)
        assert isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str)
    page = raw.parse()
    ids = {m.id for m in page.data}
    assert "tts-1" in ids, ids
    assert page._request_id, "models list: no x-request-id (SDK `_request_id`)"


def test_voices_list(client: OpenAI) -> None:
    body = client.get("/audio/voices", cast_to=object)
    voices = body["voices"]
    for voice in voices:
        assert isinstance(voice["id"], str) and isinstance(voice["name"], str), voice
    assert "alloy" in {v["id"] for v in voices}, voices


# ---- buffered and streamed speech ----------------------------------------------------


def test_buffered_default_is_mp3(client: OpenAI) -> None:
    res = speech(client)
    assert_audio(res.content, "mp3")
    assert_content_type(res.response.headers, "mp3")


def test_request_id_and_processing_ms_headers(client: OpenAI) -> None:
    first = client.audio.speech.with_raw_response.create(model=MODEL, voice=VOICE, input=SHORT)
    second = client.audio.speech.with_raw_response.create(model=MODEL, voice=VOICE, input=SHORT)
    assert first.request_id, "no x-request-id header"
    assert second.request_id and second.request_id != first.request_id, "x-request-id must be unique"
    ms = first.headers.get("openai-processing-ms")
    assert ms is not None, "no openai-processing-ms header"
    assert float(ms) >= 0
    assert_audio(first.parse().content, "mp3")


def test_stream_to_file(client: OpenAI, tmp_path) -> None:
    path = tmp_path / "speech.mp3"
    with client.audio.speech.with_streaming_response.create(
        model=MODEL, voice=VOICE, input=SHORT
    ) as response:
        assert response.status_code == 200
        response.stream_to_file(path)
    assert_audio(path.read_bytes(), "mp3")


@dataclass
class StreamRun:
    chunks: list[bytes]
    first_chunk_s: float
    total_s: float


@pytest.fixture(scope="module")
def ten_sentence_stream(client: OpenAI) -> StreamRun:
    """Streams the 10-sentence input once as pcm (no encoder buffering) and times it."""
    chunks: list[bytes] = []
    start = time.monotonic()
    first = None
    with client.audio.speech.with_streaming_response.create(
        model=MODEL, voice=VOICE, input=TEN_SENTENCES, response_format="pcm"
    ) as response:
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.monotonic() - start
            chunks.append(chunk)
    total = time.monotonic() - start
    return StreamRun(chunks, first if first is not None else total, total)


def test_iter_bytes_yields_several_chunks(ten_sentence_stream: StreamRun) -> None:
    chunks = [c for c in ten_sentence_stream.chunks if c]
    assert len(chunks) > 1, f"expected more than one chunk, got {len(chunks)}"
    data = b"".join(chunks)
    assert_audio(data, "pcm")
    assert pcm_seconds(data) > 5, f"10 sentences gave only {pcm_seconds(data):.2f} s"


def test_audio_starts_before_generation_ends(ten_sentence_stream: StreamRun) -> None:
    # Spec 4.2: audio arrives before generation ends (time to first byte << total time).
    run = ten_sentence_stream
    assert run.first_chunk_s < 0.6 * run.total_s, (
        f"first audio after {run.first_chunk_s:.2f} s of {run.total_s:.2f} s: not streamed"
    )


def test_async_client_streaming() -> None:
    async def main() -> bytes:
        async with AsyncOpenAI(
            base_url=base_url(), api_key=API_KEY, max_retries=0, timeout=TIMEOUT_S
        ) as aclient:
            async with aclient.audio.speech.with_streaming_response.create(
                model=MODEL, voice=VOICE, input=SHORT, response_format="wav"
            ) as response:
                assert response.status_code == 200
                return b"".join([chunk async for chunk in response.iter_bytes()])

    assert_audio(asyncio.run(main()), "wav")


def test_extra_body_extension_fields_accepted(client: OpenAI) -> None:
    res = speech(client, response_format="wav", extra_body={"seed": 42, "temperature": 0.5})
    assert_audio(res.content, "wav")


def test_voice_object_form(client: OpenAI) -> None:
    res = speech(client, voice={"id": VOICE}, response_format="wav")
    assert_audio(res.content, "wav")


def test_instructions_accepted(client: OpenAI) -> None:
    res = speech(client, instructions="Speak in a calm, friendly tone.", response_format="wav")
    assert_audio(res.content, "wav")


def test_organization_and_project_headers_ignored() -> None:
    with make_client(organization="org-conformance", project="proj-conformance") as c:
        assert_audio(speech(c, response_format="wav").content, "wav")


def test_bare_audio_speech_path() -> None:
    root = base_url()
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    with make_client(base_url=root) as c:
        assert_audio(speech(c, response_format="wav").content, "wav")


# ---- formats and speed ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_response_format(client: OpenAI, fmt: str) -> None:
    res = speech(client, input="Testing one format.", response_format=fmt)
    assert_audio(res.content, fmt)
    assert_content_type(res.response.headers, fmt)
    # Three words: about a second of speech, whatever the container.
    seconds = decoded_seconds(res.content, fmt)
    assert 0.6 <= seconds <= 4.0, f"{fmt}: {seconds:.2f} s of audio for three words"


def test_aac_is_adts_audio(client: OpenAI) -> None:
    # OpenAI serves aac as ADTS (`audio/aac`): a run of frames, each starting with the sync word.
    res = speech(client, input="Testing the AAC format.", response_format="aac")
    assert res.response.status_code == 200
    assert res.response.headers.get("content-type", "").split(";")[0] == "audio/aac"
    data = res.content
    frames, at = 0, 0
    while at + 7 <= len(data):
        assert data[at] == 0xFF and data[at + 1] in (0xF1, 0xF9), f"no ADTS frame at byte {at}"
        length = ((data[at + 3] & 0x03) << 11) | (data[at + 4] << 3) | (data[at + 5] >> 5)
        assert length > 7, f"ADTS frame of {length} bytes at byte {at}"
        at += length
        frames += 1
    assert at == len(data), f"{len(data) - at} trailing bytes after {frames} frames"
    # 1024 samples per frame at 24 kHz: a short sentence is well over 10 frames.
    assert frames > 10, f"only {frames} ADTS frames"


def test_unknown_response_format_is_rejected(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        speech(client, response_format="ogg")  # type: ignore[arg-type]
    assert_bad_request(info.value, "response_format")


def test_speed_scales_duration(client: OpenAI) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    seconds = {
        speed: pcm_seconds(speech(client, input=text, response_format="pcm", speed=speed).content)
        for speed in (1.0, 2.0, 0.5)
    }
    normal = seconds[1.0]
    assert normal > 0.5, seconds
    fast, slow = seconds[2.0] / normal, seconds[0.5] / normal
    assert 0.4 <= fast <= 0.6, f"speed 2.0 gave {fast:.2f}x the duration (want 0.5x ±20%): {seconds}"
    assert 1.6 <= slow <= 2.4, f"speed 0.5 gave {slow:.2f}x the duration (want 2x ±20%): {seconds}"


@pytest.mark.parametrize("speed", [0.2, 4.5])
def test_speed_out_of_range(client: OpenAI, speed: float) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        speech(client, speed=speed)
    assert_bad_request(info.value, "speed")


# ---- SSE -----------------------------------------------------------------------------


def test_sse_stream(client: OpenAI) -> None:
    events = []
    with client.audio.speech.with_streaming_response.create(
        model=SSE_MODEL, voice=VOICE, input=SHORT, response_format="pcm", stream_format="sse"
    ) as response:
        # The SDK sends Accept: application/octet-stream; SSE must follow stream_format.
        assert response.headers.get("content-type", "").startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[len("data:") :].strip()))
            else:
                assert line == "" or line.startswith(":"), f"unexpected SSE line {line!r}"

    types = [e["type"] for e in events]
    assert set(types) <= {"speech.audio.delta", "speech.audio.done"}, types
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 1, types
    assert types.count("speech.audio.done") == 1, types
    assert types[-1] == "speech.audio.done", "speech.audio.done must be the last event"

    usage = events[-1]["usage"]
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        assert isinstance(usage[key], int), usage
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], usage

    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert_audio(audio, "pcm")


# ---- errors --------------------------------------------------------------------------


def test_unknown_voice_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        speech(client, voice="no-such-voice-conformance")
    exc = info.value
    assert exc.status_code == 404
    error = error_body(exc)
    assert exc.param == "voice" and error["param"] == "voice", error
    assert exc.code == "voice_not_found", error
    assert exc.request_id, "error responses need x-request-id too"


def test_input_over_4096_chars_is_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        speech(client, input="a" * 4097)
    assert_bad_request(info.value, "input")


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_input_is_400(client: OpenAI, text: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        speech(client, input=text)
    assert_bad_request(info.value, "input")


@pytest.mark.parametrize("field", ["model", "input", "voice"])
def test_missing_required_field_is_400(client: OpenAI, field: str) -> None:
    body = {"model": MODEL, "voice": VOICE, "input": SHORT}
    del body[field]
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/audio/speech", body=body, cast_to=object)
    assert_bad_request(info.value, field)


def assert_unauthorized(error: dict) -> None:
    assert error["type"] in {"invalid_request_error", "authentication_error"}, error
    assert error["code"] == "invalid_api_key", error


def test_wrong_api_key_is_401() -> None:
    with make_client(api_key="sk-wrong-key") as c:
        with pytest.raises(openai.AuthenticationError) as info:
            speech(c)
    assert info.value.status_code == 401
    assert_unauthorized(error_body(info.value))


def test_missing_api_key_is_401() -> None:
    # The SDK always sends a key, so go around it.
    request = urllib.request.Request(
        base_url() + "/audio/speech",
        data=json.dumps({"model": MODEL, "voice": VOICE, "input": SHORT}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=TIMEOUT_S)
    assert info.value.code == 401
    assert_unauthorized(checked_error(json.loads(info.value.read())))
