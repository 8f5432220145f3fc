// OpenAI Node SDK conformance tests for the speech server's /v1/audio/speech endpoint
// (contract: shared/spec/openai-speech.md). Run with `node --test test.mjs` given
// OPENAI_BASE_URL (including /v1; required, never api.openai.com) and OPENAI_API_KEY
// (default sk-test-123); SDK_TEST_MODEL (default tts-1) and SDK_TEST_VOICE (default alloy)
// are optional. scripts/run-sdk-tests.sh starts a local-runner and sets them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import OpenAI from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
if (!baseURL) {
  console.error('OPENAI_BASE_URL is not set (e.g. http://127.0.0.1:7860/v1); run scripts/run-sdk-tests.sh or export it');
  process.exit(2);
}
const apiKey = process.env.OPENAI_API_KEY ?? 'sk-test-123';
const model = process.env.SDK_TEST_MODEL ?? 'tts-1';
const voice = process.env.SDK_TEST_VOICE ?? 'alloy';

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });

const TEN_SENTENCES = [
  'The first sentence is short.',
  'Here comes the second one.',
  'A third sentence follows them.',
  'The fourth keeps the stream going.',
  'Number five is right in the middle.',
  'Six sentences are more than half.',
  'The seventh is nearly the last.',
  'Eight of ten are now spoken.',
  'The ninth sentence is almost done.',
  'And the tenth one ends the test.',
].join(' ');

const PCM_RATE = 24000;

/** Decodes `buf` with the ffmpeg the setup step fetched (SDK_TEST_FFMPEG) and returns its
 * length in seconds: the body must be whole, playable audio, not only the right first bytes. */
function decodedSeconds(buf, format) {
  if (format === 'pcm') return buf.length / 2 / PCM_RATE;
  const ffmpeg = process.env.SDK_TEST_FFMPEG ?? '';
  accessSync(ffmpeg, constants.X_OK);
  const done = spawnSync(
    ffmpeg,
    ['-v', 'error', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', String(PCM_RATE), 'pipe:1'],
    { input: buf, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  assert.equal(done.status, 0, `${format}: ffmpeg could not decode it: ${done.stderr}`);
  return done.stdout.length / 2 / PCM_RATE;
}

function assertMp3(buf) {
  assert.ok(buf.length > 0, 'mp3: empty body');
  const id3 = buf.subarray(0, 3).toString('latin1') === 'ID3';
  const frameSync = buf.length > 1 && buf[0] === 0xff && (buf[1] & 0xe0) === 0xe0;
  assert.ok(id3 || frameSync, `mp3: neither ID3 nor MPEG frame sync: ${buf.subarray(0, 16).toString('hex')}`);
}

function assertWav(buf) {
  assert.ok(
    buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WAVE',
    `wav: no RIFF....WAVE: ${buf.subarray(0, 16).toString('hex')}`,
  );
  assert.ok(buf.length > 44, `wav: only ${buf.length} bytes`);
}

test('buffered speech.create returns mp3 by default', async () => {
  const res = await client.audio.speech.create({ model, voice, input: 'Hello from the Node SDK.' });
  assert.equal(res.status, 200);
  assertMp3(Buffer.from(await res.arrayBuffer()));
  assert.ok(res.headers.get('x-request-id'), 'no x-request-id header');
});

test('speech.create body streams a 10-sentence wav: audio arrives before the end', async () => {
  const started = Date.now();
  const res = await client.audio.speech.create({ model, voice, input: TEN_SENTENCES, response_format: 'wav' });
  assert.equal(res.status, 200);
  const chunks = [];
  let firstAt = null;
  for await (const chunk of res.body) {
    if (chunk.length > 0) {
      firstAt ??= Date.now() - started;
      chunks.push(Buffer.from(chunk));
    }
  }
  const total = Date.now() - started;
  assert.ok(chunks.length > 1, `expected more than one chunk, got ${chunks.length}`);
  // A buffered body would arrive at the end: the first audio must come well before it.
  assert.ok(firstAt < total * 0.6, `first audio after ${firstAt} ms of ${total} ms: not streamed`);
  const audio = Buffer.concat(chunks);
  assertWav(audio);
  const seconds = decodedSeconds(audio, 'wav');
  assert.ok(seconds > 10 && seconds < 40, `${seconds} s of audio for ten sentences`);
});

for (const format of ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']) {
  test(`${format} decodes to about a second of speech`, async () => {
    const res = await client.audio.speech.create({ model, voice, input: 'Testing one format.', response_format: format });
    assert.equal(res.status, 200);
    const seconds = decodedSeconds(Buffer.from(await res.arrayBuffer()), format);
    assert.ok(seconds >= 0.6 && seconds <= 4.0, `${format}: ${seconds} s of audio for three words`);
  });
}

test('models.list names the installed models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(model), `${model} missing from ${ids}`);
});

test('GET /audio/voices lists the voices with their engine', async () => {
  const body = await client.get('/audio/voices');
  const ids = body.voices.map((v) => v.id);
  assert.ok(ids.includes(voice), `${voice} missing from ${ids}`);
  for (const v of body.voices) assert.ok(['piper', 'chatterbox'].includes(v.engine), JSON.stringify(v));
});

test('stream_format sse sends deltas, then one done event with usage', async () => {
  const sseModel = process.env.SDK_TEST_SSE_MODEL ?? 'piper';
  const res = await client.audio.speech.create({ model: sseModel, voice, input: 'One. Two.', stream_format: 'sse', response_format: 'pcm' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)));
  const deltas = events.filter((e) => e.type === 'speech.audio.delta');
  const done = events.filter((e) => e.type === 'speech.audio.done');
  assert.ok(deltas.length >= 1, `no delta events in ${text.slice(0, 200)}`);
  assert.equal(done.length, 1);
  assert.ok(done[0].usage.output_tokens > 0, JSON.stringify(done[0]));
  const pcm = Buffer.concat(deltas.map((d) => Buffer.from(d.audio, 'base64')));
  const seconds = decodedSeconds(pcm, 'pcm');
  assert.ok(seconds > 0.4 && seconds < 5, `${seconds} s of audio in the deltas`);
});

test('unknown voice is a 404 APIError with param "voice"', async () => {
  await assert.rejects(
    client.audio.speech.create({ model, voice: 'no-such-voice-conformance', input: 'Hi.' }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
      assert.ok(err instanceof OpenAI.NotFoundError, `not a NotFoundError: ${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.error?.param ?? err.param, 'voice');
      assert.equal(err.code, 'voice_not_found');
      return true;
    },
  );
});

test('aac is ADTS audio served as audio/aac', async () => {
  const res = await client.audio.speech.create({ model, voice, input: 'Testing the AAC format.', response_format: 'aac' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type')?.split(';')[0], 'audio/aac');
  const buf = Buffer.from(await res.arrayBuffer());
  // ADTS: every frame starts with the sync word, 0xFFF1 (MPEG-4) or 0xFFF9 (MPEG-2), no CRC.
  let at = 0;
  let frames = 0;
  while (at + 7 <= buf.length) {
    assert.ok(buf[at] === 0xff && (buf[at + 1] === 0xf1 || buf[at + 1] === 0xf9), `no ADTS frame at byte ${at}`);
    const length = ((buf[at + 3] & 0x03) << 11) | (buf[at + 4] << 3) | (buf[at + 5] >> 5);
    assert.ok(length > 7, `ADTS frame of ${length} bytes at byte ${at}`);
    at += length;
    frames += 1;
  }
  assert.equal(at, buf.length, `trailing bytes after ${frames} frames`);
  assert.ok(frames > 10, `only ${frames} ADTS frames`);
});

test('a wrong API key is a 401 AuthenticationError', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'sk-wrong-key', maxRetries: 0 });
  await assert.rejects(
    wrong.audio.speech.create({ model, voice, input: 'Hi.' }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `not an AuthenticationError: ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_api_key');
      return true;
    },
  );
});
