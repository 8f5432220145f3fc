"""Home Assistant's Wyoming protocol against the server, spoken by the `wyoming` package
itself (the library Home Assistant's Wyoming integration uses): describe/info, one-shot
synthesis, streaming synthesis that starts speaking before the text is complete, errors, and
the server's Wyoming lexicon (`--wyoming-lexicons wyoming-test`, stored here over HTTP).

Needs SDK_TEST_WYOMING=host:port (scripts/run-sdk-tests.sh starts the runner with
--wyoming-port and sets it; set it to "off" to leave these out against a server without it).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

BUILTIN = "en_US-joe-medium"
TIMEOUT = 60


def endpoint() -> tuple[str, int]:
    value = os.environ.get("SDK_TEST_WYOMING", "")
    if value == "off":
        pytest.skip("SDK_TEST_WYOMING=off: the server under test does not serve Wyoming")
    assert value, "SDK_TEST_WYOMING (host:port) is not set: run scripts/run-sdk-tests.sh"
    host, port = value.rsplit(":", 1)
    return host, int(port)


@pytest.fixture(scope="module", autouse=True)
def wyoming_lexicon() -> None:
    """Stores the lexicon the runner applies to Wyoming (scripts/run-sdk-tests.sh starts it
    with --wyoming-lexicons wyoming-test): `zork` is said as six words."""
    if os.environ.get("SDK_TEST_WYOMING", "") == "off":
        return
    base = os.environ["OPENAI_BASE_URL"].rstrip("/").removesuffix("/v1")
    body = json.dumps({"entries": [{"grapheme": "zork", "alias": "one two three four five six"}]})
    request = urllib.request.Request(
        f"{base}/api/v1/lexicon/wyoming-test",
        data=body.encode(),
        method="PUT",
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {os.environ['OPENAI_API_KEY']}",
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        assert answer.status == 200, answer.read()


async def read(client: AsyncTcpClient):
    event = await asyncio.wait_for(client.read_event(), TIMEOUT)
    assert event is not None, "the server closed the connection"
    return event


async def audio_until(
    client: AsyncTcpClient, last_type: str, start: AudioStart | None = None
) -> tuple[AudioStart, float, list[str]]:
    """Reads events until `last_type`; returns the audio-start (`start` if it was read
    already), the seconds of audio and the event types in order."""
    seconds = 0.0
    kinds: list[str] = []
    while True:
        event = await read(client)
        kinds.append(event.type)
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            assert (chunk.rate, chunk.width, chunk.channels) == (24000, 2, 1), chunk
            seconds += len(chunk.audio) / 2 / chunk.rate
        elif Error.is_type(event.type):
            raise AssertionError(f"error event: {event.data}")
        if event.type == last_type:
            assert start is not None, kinds
            return start, seconds, kinds


def test_describe_lists_the_builtin_voice_and_streaming() -> None:
    async def run() -> None:
        async with AsyncTcpClient(*endpoint()) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await read(client))
            assert len(info.tts) == 1
            program = info.tts[0]
            assert program.installed and program.supports_synthesize_streaming
            voices = {v.name: v for v in program.voices}
            assert BUILTIN in voices, list(voices)
            assert voices[BUILTIN].installed and voices[BUILTIN].languages == ["en_US"]

    asyncio.run(run())


def test_synthesize_answers_start_chunks_stop() -> None:
    async def run() -> None:
        async with AsyncTcpClient(*endpoint()) as client:
            await client.write_event(
                Synthesize(text="Hello from Home Assistant.", voice=SynthesizeVoice(name=BUILTIN)).event()
            )
            start, seconds, kinds = await audio_until(client, "audio-stop")
            assert (start.rate, start.width, start.channels) == (24000, 2, 1)
            assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop", kinds
            assert 0.8 <= seconds <= 5.0, f"{seconds:.2f} s of audio for four words"
            # The connection stays usable: a second request on it works too.
            await client.write_event(Synthesize(text="Again.").event())
            _, again, _ = await audio_until(client, "audio-stop")
            assert again > 0.2

    asyncio.run(run())


def test_streaming_synthesis_speaks_before_the_text_is_complete() -> None:
    async def run() -> None:
        async with AsyncTcpClient(*endpoint()) as client:
            voice = SynthesizeVoice(name=BUILTIN)
            await client.write_event(SynthesizeStart(voice=voice).event())
            await client.write_event(SynthesizeChunk(text="The first sentence is complete. The sec").event())
            # Audio for the first sentence comes before the rest of the text is sent.
            first = await read(client)
            assert AudioStart.is_type(first.type), first
            started = AudioStart.from_event(first)
            await client.write_event(SynthesizeChunk(text="ond one arrives later").event())
            await client.write_event(
                Synthesize(
                    text="The first sentence is complete. The second one arrives later", voice=voice
                ).event()
            )
            await client.write_event(SynthesizeStop().event())
            _, seconds, kinds = await audio_until(client, "synthesize-stopped", started)
            assert "audio-stop" in kinds and kinds.index("audio-stop") < kinds.index("synthesize-stopped"), kinds
            assert kinds.count("audio-start") == 0, f"one audio-start only: {kinds}"
            assert seconds >= 2.0, f"{seconds:.2f} s of audio for two sentences (the compatibility synthesize is not spoken twice)"
            assert seconds <= 9.0, f"{seconds:.2f} s of audio: spoken twice?"
            assert SynthesizeStopped.is_type(kinds[-1])

    asyncio.run(run())


def test_an_unknown_voice_is_an_error_event() -> None:
    async def run() -> None:
        async with AsyncTcpClient(*endpoint()) as client:
            await client.write_event(Synthesize(text="Hi.", voice=SynthesizeVoice(name="nobody-here")).event())
            event = await read(client)
            assert Error.is_type(event.type), event
            error = Error.from_event(event)
            assert "nobody-here" in error.text, error
            # Still usable afterwards.
            await client.write_event(Describe().event())
            assert Info.is_type((await read(client)).type)

    asyncio.run(run())


def test_the_wyoming_lexicon_changes_what_is_said() -> None:
    async def run() -> None:
        async with AsyncTcpClient(*endpoint()) as client:
            await client.write_event(Synthesize(text="Zork.").event())
            _, lexicon, _ = await audio_until(client, "audio-stop")
            await client.write_event(Synthesize(text="One two three four five six.").event())
            _, spelled_out, _ = await audio_until(client, "audio-stop")
            # One short word becomes six: as long as the six said directly, give or take.
            assert lexicon > 1.5, f"{lexicon:.2f} s for 'Zork.': the lexicon was not applied"
            assert abs(lexicon - spelled_out) / spelled_out < 0.3, (lexicon, spelled_out)

    asyncio.run(run())
