// Speak: text to speech with every parameter the API takes (its ranges and defaults from
// GET /api/v1/config), a stored result with downloads and read-along captions, and a
// streamed preview that plays while the audio arrives.

import { call, config, post } from '../api.js';
import { busy, checkbox, duration, facts, field, formatPicker, h, numberInput, replace, routeParams, showError, toast } from '../dom.js';
import { downloadButton, PcmStreamPlayer, storedPlayer } from '../media.js';
import { voicePicker } from '../voice-picker.js';

/** Where Library's "generate again" leaves an output's parameters for this page. */
export const REGENERATE_KEY = 'speech-studio.regenerate';
/** The OpenAI route's input limit, which the streamed preview goes through. */
const STREAM_MAX = 4096;

const SAMPLING = [
  ['exaggeration', 'Exaggeration', { min: 0, max: 2, step: 0.05 }],
  ['temperature', 'Temperature', { min: 0, max: 2, step: 0.05 }],
  ['cfg_weight', 'CFG weight', { min: 0, max: 2, step: 0.05 }],
  ['top_p', 'Top p', { min: 0, max: 1, step: 0.01 }],
  ['min_p', 'Min p', { min: 0, max: 1, step: 0.01 }],
  ['repetition_penalty', 'Repetition penalty', { min: 1, max: 2, step: 0.05 }],
  ['num_candidates_per_chunk', 'Candidates per chunk', { min: 1, max: 10, step: 1 }],
  ['max_attempts_per_candidate', 'Attempts per candidate', { min: 1, max: 10, step: 1 }],
  ['seed', 'Seed (0: random)', { min: 0, max: 4294967295, step: 1 }],
];
const AUDIO = [
  ['speed_factor', 'Speed', { min: 0.25, max: 4, step: 0.05 }],
  ['trim_threshold_ms', 'Trim silences over (ms)', { min: 50, max: 1000, step: 10 }],
  ['normalize_level', 'Loudness target (LUFS)', { min: -70, max: -5, step: 0.5 }],
];

export default async function speakPage(view) {
  const cfg = await config();
  const defaults = cfg.tts_defaults || {};
  const maxText = cfg.max_text_length || 10000;
  const cloning = Boolean(cfg.engines?.chatterbox_installed);
  const form = h('form', { novalidate: true, 'aria-labelledby': 'speak-title' });

  const text = h('textarea', { name: 'text', required: true, maxlength: maxText, rows: 8, placeholder: 'Type or paste what to say. SSML works too: start with <speak>.' });
  const counter = h('span', {});
  const countText = () => {
    counter.textContent = `${text.value.length.toLocaleString()} / ${maxText.toLocaleString()} characters`;
    streamButton.disabled = text.value.length > STREAM_MAX;
    streamButton.title = streamButton.disabled ? `The streamed preview takes up to ${STREAM_MAX} characters` : '';
  };
  text.addEventListener('input', countText);

  const voice = voicePicker({ label: 'Voice', onChange: () => syncEngine() });
  const engine = h('select', { name: 'model' },
    h('option', { value: 'auto', text: 'Automatic (the voice decides)' }),
    h('option', { value: 'piper', text: 'Piper (built-in voice)' }),
    h('option', { value: 'chatterbox', disabled: !cloning, text: cloning ? 'Chatterbox (cloning)' : 'Chatterbox (not installed)' }));
  const syncEngine = () => {
    const stored = Boolean(voice.value());
    sampling.hidden = !stored && engine.value !== 'chatterbox';
  };
  engine.addEventListener('change', syncEngine);

  const inputs = {};
  const numberField = ([name, label, range]) => {
    inputs[name] = numberInput(name, { ...range, value: defaults[name] });
    return field(label, inputs[name], `${range.min}–${range.max}, default ${defaults[name]}`);
  };
  const sampling = h('details', { class: 'panel' }, h('summary', { text: 'Cloning settings (Chatterbox)' }),
    h('div', { class: 'grid2' }, SAMPLING.map(numberField)));
  const captions = checkbox('Captions (word timings)', 'captions', true);
  const normalizeText = checkbox('Read numbers, dates and units as words', 'normalize_text', defaults.normalize_text !== false);
  const trim = checkbox('Trim long silences', 'trim', Boolean(defaults.trim));
  const loudness = checkbox('Normalise loudness (EBU R128)', 'normalize_audio', Boolean(defaults.normalize_audio));
  const ssml = h('select', { name: 'ssml' },
    h('option', { value: 'auto', text: 'SSML when the text starts with <speak>' }),
    h('option', { value: 'true', text: 'Always SSML' }),
    h('option', { value: 'false', text: 'Never (read markup as text)' }));
  const lexicons = h('input', { type: 'text', name: 'lexicons', placeholder: 'e.g. tech, names' });
  const project = h('input', { type: 'text', name: 'project', placeholder: 'Library root' });
  const formats = formatPicker(cfg.supported_formats || ['wav', 'mp3'], defaults.export_formats || ['wav', 'mp3']);

  const speakButton = h('button', { type: 'submit', class: 'primary', text: 'Speak' });
  const streamButton = h('button', { type: 'button', text: 'Stream preview' });
  const stopButton = h('button', { type: 'button', text: 'Stop', hidden: true });
  const errors = h('div', {});
  const result = h('div', { id: 'speak-result', 'aria-live': 'polite' });

  form.append(
    field('Text', text, counter),
    voice.el,
    field('Engine', engine),
    sampling,
    h('details', { class: 'panel' }, h('summary', { text: 'Text and audio' }),
      h('div', { class: 'grid2' }, AUDIO.map(numberField)),
      normalizeText.el, trim.el, loudness.el, captions.el,
      field('SSML', ssml),
      field('Lexicons', lexicons, 'Stored pronunciation lexicons, comma-separated')),
    formats.el,
    field('Folder', project, 'Where the files are stored (a project folder)'),
    h('div', { class: 'inline' }, speakButton, streamButton, stopButton,
      h('span', { class: 'muted' }, h('span', { class: 'kbd', text: 'Ctrl+Enter' }), ' speaks')),
    errors);

  const body = () => {
    const request = { text: text.value, model: engine.value, export_formats: formats.selected(), captions: captions.input.checked };
    if (voice.value()) request.reference_audio_filename = voice.value();
    for (const [name, input] of Object.entries(inputs)) {
      if (input.value === '') continue;
      const value = Number(input.value);
      if (value !== defaults[name]) request[name] = Number.isNaN(value) ? input.value : value;
    }
    if (normalizeText.input.checked !== (defaults.normalize_text !== false)) request.normalize_text = normalizeText.input.checked;
    if (trim.input.checked) request.trim = true;
    if (loudness.input.checked) request.normalize_audio = true;
    if (ssml.value !== 'auto') request.ssml = ssml.value === 'true';
    const names = lexicons.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length) request.lexicons = names;
    if (project.value.trim()) request.project = project.value.trim();
    return request;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    busy(speakButton, 'Speaking…', async () => {
      try {
        const answer = await post('/api/v1/tts', body(), { query: { response_mode: 'url' } });
        showResult(result, answer, inputs.seed);
        toast('Speech ready.');
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });

  let player = null;
  streamButton.addEventListener('click', async () => {
    replace(errors);
    const request = body();
    const stream = {
      model: request.model === 'auto' ? 'tts-1' : request.model,
      voice: request.reference_audio_filename || voice.builtinId() || 'en_US-joe-medium',
      input: request.text, response_format: 'pcm', speed: request.speed_factor,
      exaggeration: request.exaggeration, cfg_weight: request.cfg_weight, temperature: request.temperature,
      seed: request.seed, lexicons: request.lexicons, normalize_text: request.normalize_text,
    };
    const started = performance.now();
    player = new PcmStreamPlayer(24000);
    stopButton.hidden = false;
    streamButton.disabled = true;
    const note = h('p', { class: 'muted', text: 'Waiting for the first audio…' });
    replace(result, h('h2', { id: 'speak-result-title', text: 'Streamed preview' }), note);
    try {
      const response = await call('POST', '/v1/audio/speech', { json: stream, raw: true });
      const seconds = await player.play(response, (s) => {
        note.textContent = `Playing: ${s.toFixed(1)} s received, first audio after ${Math.round(player.firstAudioAt - started)} ms.`;
      });
      note.textContent = `Played ${seconds.toFixed(1)} s (not stored: use Speak to keep it).`;
    } catch (err) {
      showError(errors, err, form);
      replace(result);
    } finally {
      stopButton.hidden = true;
      streamButton.disabled = false;
      player?.stop();
      player = null;
    }
  });
  stopButton.addEventListener('click', () => player?.stop());

  view.append(
    h('h1', { id: 'speak-title', text: 'Speak' }),
    h('div', { class: 'cols' }, h('div', { class: 'panel' }, form), h('div', {}, result)));
  countText();
  syncEngine();

  // Prefill: "generate again" from the Library, or ?voice= from Clone.
  const again = sessionStorage.getItem(REGENERATE_KEY);
  if (again) {
    sessionStorage.removeItem(REGENERATE_KEY);
    prefill(JSON.parse(again), { text, engine, inputs, formats, project, trim, loudness, voice, normalizeText, captions, ssml, lexicons });
  }
  const wanted = routeParams().get('voice');
  if (wanted) voice.select(wanted).then(syncEngine);
  text.focus();
}

function prefill(parameters, c) {
  if (parameters.text) c.text.value = parameters.text;
  c.text.dispatchEvent(new Event('input'));
  if (['auto', 'piper', 'chatterbox'].includes(parameters.model)) c.engine.value = parameters.model;
  for (const [name, input] of Object.entries(c.inputs)) {
    if (typeof parameters[name] === 'number') input.value = parameters[name];
  }
  if (Array.isArray(parameters.export_formats)) c.formats.set(parameters.export_formats);
  if (parameters.project) c.project.value = parameters.project;
  c.trim.input.checked = Boolean(parameters.trim);
  c.loudness.input.checked = Boolean(parameters.normalize_audio);
  if (typeof parameters.normalize_text === 'boolean') c.normalizeText.input.checked = parameters.normalize_text;
  if (typeof parameters.captions === 'boolean') c.captions.input.checked = parameters.captions;
  if (typeof parameters.ssml === 'boolean') c.ssml.value = String(parameters.ssml);
  if (Array.isArray(parameters.lexicons)) c.lexicons.value = parameters.lexicons.join(', ');
  if (parameters.reference_audio_filename) c.voice.select(parameters.reference_audio_filename);
  toast('Settings of the output loaded: press Speak to generate again.');
}

function showResult(slot, answer, seedInput) {
  const files = answer.output_files || [];
  const first = files[0];
  const audio = first ? storedPlayer(first.url, `Play ${first.filename}`) : null;
  const seed = answer.generation_seed_used;
  const reuse = seed !== null && seed !== undefined
    ? h('button', { type: 'button', class: 'small', text: 'Reuse seed', onclick: () => { seedInput.value = seed; toast(`Seed ${seed} set.`); } })
    : null;
  replace(slot,
    h('h2', { id: 'speak-result-title', text: 'Result' }),
    h('div', { class: 'panel' },
      audio,
      facts([
        ['Engine', answer.model],
        ['Duration', duration(answer.duration_seconds)],
        ['Sample rate', `${answer.sample_rate} Hz`],
        ['Took', `${(answer.processing_time_seconds ?? 0).toFixed(2)} s`],
        ['Seed', seed === null || seed === undefined ? 'none (the built-in voice has no seed)' : h('span', {}, String(seed), ' ', reuse)],
      ]),
      (answer.warnings || []).length ? h('ul', { class: 'warn' }, answer.warnings.map((w) => h('li', { text: w }))) : null,
      h('h3', { text: 'Downloads' }),
      h('div', { class: 'inline' }, files.map((f) => downloadButton(f.url, `${f.format.toUpperCase()} (${(f.size_bytes / 1024).toFixed(0)} KB)`))),
      answer.captions ? captionsView(answer.captions, audio, first) : null));
}

/** Read-along captions: the word (or sentence) being spoken is highlighted; click to seek. */
export function captionsView(captions, audio, file) {
  const spans = [];
  const segments = captions.segments || [];
  const body = h('p', { class: 'captions' });
  for (const segment of segments) {
    const pieces = segment.words?.length ? segment.words : [{ word: segment.text, start: segment.start, end: segment.end }];
    for (const piece of pieces) {
      const span = h('span', { class: 'word', dataset: { start: piece.start, end: piece.end }, text: piece.word });
      span.addEventListener('click', () => { if (audio) { audio.currentTime = piece.start; audio.play(); } });
      spans.push(span);
      body.append(span, ' ');
    }
  }
  if (audio) {
    audio.addEventListener('timeupdate', () => {
      const t = audio.currentTime;
      for (const span of spans) {
        span.classList.toggle('current', t >= Number(span.dataset.start) && t < Number(span.dataset.end));
      }
    });
  }
  const vtt = file ? downloadButton(`/api/v1/output/${encodeURIComponent(file.path)}/captions?format=vtt`, 'Captions (VTT)', file.filename.replace(/\.[^.]+$/, '.vtt')) : null;
  return h('div', {}, h('h3', { text: `Captions (${captions.level === 'word' ? 'word timings' : 'sentences'})` }), body, vtt);
}

