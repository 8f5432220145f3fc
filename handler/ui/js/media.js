// Audio in the browser: players for stored files, playback of a PCM stream while it
// arrives, and recording from the microphone into a WAV file the API accepts.

import { download, objectUrl } from './api.js';
import { h, toast, uid } from './dom.js';

/** An `<audio controls>` for a stored file, loaded with the key; `label` names it. */
export function storedPlayer(url, label) {
  const audio = h('audio', { controls: true, preload: 'none', 'aria-label': label || `Play ${url.split('/').pop()}` });
  objectUrl(url).then((src) => { audio.src = src; }).catch((err) => toast(`Could not load ${url}: ${err.message}`, 'error'));
  return audio;
}

/** Plays a stored file once (for "play" buttons in lists). */
let shared = null;
export async function playOnce(url) {
  if (!shared) shared = new Audio();
  shared.pause();
  shared.src = await objectUrl(url);
  await shared.play();
}

/** A button that downloads a stored file. */
export function downloadButton(url, label, filename) {
  const name = filename || decodeURIComponent(url.split('/').pop());
  return h('button', {
    type: 'button', class: 'small', text: label || 'Download',
    'aria-label': `Download ${name}`,
    onclick: () => download(url, name).catch((err) => toast(err.message, 'error')),
  });
}

/**
 * Plays raw PCM (signed 16-bit little-endian, mono) from a fetch Response while it
 * arrives: each piece is scheduled right after the previous one. Resolves when the
 * stream has ended and played; `stop()` cuts it short.
 */
export class PcmStreamPlayer {
  constructor(sampleRate = 24000) {
    this.context = new AudioContext({ sampleRate });
    this.sampleRate = sampleRate;
    this.at = 0;
    this.sources = [];
    this.stopped = false;
    this.firstAudioAt = null;
  }

  async play(response, onProgress) {
    const reader = response.body.getReader();
    let carry = new Uint8Array(0);
    let seconds = 0;
    this.at = this.context.currentTime + 0.1;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.stopped) break;
      const joined = new Uint8Array(carry.length + value.length);
      joined.set(carry);
      joined.set(value, carry.length);
      const whole = joined.length - (joined.length % 2);
      carry = joined.slice(whole);
      if (whole === 0) continue;
      const samples = new Int16Array(joined.buffer.slice(0, whole));
      const buffer = this.context.createBuffer(1, samples.length, this.sampleRate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i += 1) channel[i] = samples[i] / 32768;
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.context.destination);
      this.at = Math.max(this.at, this.context.currentTime + 0.02);
      source.start(this.at);
      this.at += buffer.duration;
      this.sources.push(source);
      seconds += buffer.duration;
      if (this.firstAudioAt === null) this.firstAudioAt = performance.now();
      onProgress?.(seconds);
    }
    const left = Math.max(0, this.at - this.context.currentTime);
    await new Promise((resolve) => setTimeout(resolve, left * 1000));
    return seconds;
  }

  stop() {
    this.stopped = true;
    for (const s of this.sources) {
      try { s.stop(); } catch { /* already ended */ }
    }
    this.context.close();
  }
}

/** 16-bit PCM WAV of an AudioBuffer (mixed to mono). */
export function encodeWav(buffer) {
  const length = buffer.length;
  const mono = new Float32Array(length);
  for (let c = 0; c < buffer.numberOfChannels; c += 1) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < length; i += 1) mono[i] += data[i] / buffer.numberOfChannels;
  }
  const out = new DataView(new ArrayBuffer(44 + length * 2));
  const text = (at, s) => [...s].forEach((ch, i) => out.setUint8(at + i, ch.charCodeAt(0)));
  text(0, 'RIFF');
  out.setUint32(4, 36 + length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  out.setUint32(16, 16, true);
  out.setUint16(20, 1, true);
  out.setUint16(22, 1, true);
  out.setUint32(24, buffer.sampleRate, true);
  out.setUint32(28, buffer.sampleRate * 2, true);
  out.setUint16(32, 2, true);
  out.setUint16(34, 16, true);
  text(36, 'data');
  out.setUint32(40, length * 2, true);
  for (let i = 0; i < length; i += 1) {
    const v = Math.max(-1, Math.min(1, mono[i]));
    out.setInt16(44 + i * 2, v < 0 ? v * 32768 : v * 32767, true);
  }
  return new Blob([out.buffer], { type: 'audio/wav' });
}

/**
 * An audio source control: choose a file or record one (MediaRecorder, saved as WAV,
 * which every server accepts). `onChange(file)` gets a File (or null when cleared).
 */
export function audioSource({ label, name, onChange }) {
  const input = h('input', { type: 'file', name, accept: 'audio/*,.wav,.mp3,.flac,.ogg,.opus,.m4a,.aac', id: uid(name) });
  const preview = h('audio', { controls: true, hidden: true, 'aria-label': `Preview of the ${label.toLowerCase()}` });
  const status = h('span', { class: 'muted', 'aria-live': 'polite' });
  let current = null;
  let recorder = null;
  const set = (file) => {
    current = file;
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (file) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      status.textContent = `${file.name} (${(file.size / 1024).toFixed(0)} KB)`;
    } else {
      preview.removeAttribute('src');
      preview.hidden = true;
      status.textContent = '';
    }
    onChange?.(file);
  };
  input.addEventListener('change', () => set(input.files[0] || null));
  const record = h('button', { type: 'button', text: 'Record' });
  record.addEventListener('click', async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
      toast('This browser cannot record here (recording needs https or localhost).', 'error');
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener('dataavailable', (e) => chunks.push(e.data));
      recorder.addEventListener('stop', async () => {
        stream.getTracks().forEach((t) => t.stop());
        recorder = null;
        record.textContent = 'Record';
        record.setAttribute('aria-pressed', 'false');
        try {
          const context = new AudioContext();
          const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
          context.close();
          const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
          input.value = '';
          set(new File([encodeWav(decoded)], `recording-${stamp}.wav`, { type: 'audio/wav' }));
        } catch (err) {
          toast(`The recording could not be read: ${err.message}`, 'error');
        }
      });
      recorder.start();
      record.textContent = 'Stop recording';
      record.setAttribute('aria-pressed', 'true');
      status.textContent = 'Recording…';
    } catch (err) {
      toast(`No microphone: ${err.message}`, 'error');
    }
  });
  const el = h('div', { class: 'field' },
    h('label', { for: input.id, text: label }),
    h('div', { class: 'inline' }, input, record, status),
    preview);
  return { el, input, file: () => current, clear: () => { input.value = ''; set(null); } };
}
