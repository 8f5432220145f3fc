// Concat builder: outputs and uploaded clips on a timeline, reordered by drag or keyboard
// (Alt+↑/↓), with silences, natural pauses, crossfades, trimming and levelling; built by
// POST /api/v1/concat (or /concat/mixed when clips are uploaded) into a project folder.

import { call, config, get, post, stringify } from '../api.js';
import { busy, checkbox, duration, facts, field, formatPicker, h, numberInput, replace, showError, toast } from '../dom.js';
import { downloadButton, storedPlayer } from '../media.js';

/** Where the Library's "add to concat" leaves output paths for this page. */
export const CONCAT_KEY = 'speech-studio.concat';
const DRAFT_KEY = 'speech-studio.concat-draft';

export default async function concatPage(view) {
  const cfg = await config();
  // Segments: {type: 'server_file', source} | {type: 'silence', source: '(1.5s)'} | {type: 'upload', file}.
  const segments = [];
  try {
    for (const s of JSON.parse(sessionStorage.getItem(DRAFT_KEY) || '[]')) segments.push(s);
  } catch { /* a broken draft is dropped */ }
  for (const path of JSON.parse(sessionStorage.getItem(CONCAT_KEY) || '[]')) segments.push({ type: 'server_file', source: path });
  sessionStorage.removeItem(CONCAT_KEY);

  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline' });
  const live = h('div', { class: 'visually-hidden', 'aria-live': 'assertive' });
  const errors = h('div', {});
  const result = h('section', { 'aria-live': 'polite' });
  let dragged = null;

  const saveDraft = () => sessionStorage.setItem(DRAFT_KEY, JSON.stringify(segments.filter((s) => s.type !== 'upload')));
  const label = (s) => (s.type === 'silence' ? `Silence ${s.source}` : s.type === 'upload' ? `Upload: ${s.file.name}` : s.source);
  const move = (from, to, focus = true) => {
    if (to < 0 || to >= segments.length || from === to) return;
    const [item] = segments.splice(from, 1);
    segments.splice(to, 0, item);
    render(focus ? to : null);
    live.textContent = `${label(item)} moved to position ${to + 1} of ${segments.length}.`;
  };

  const render = (focusIndex = null) => {
    saveDraft();
    replace(timeline, segments.map((s, i) => {
      const li = h('li', {
        class: s.type === 'silence' ? 'silence' : null, draggable: 'true', tabindex: '0',
        'aria-label': `${i + 1}. ${label(s)}. Alt+Up or Alt+Down moves it.`,
      },
      h('span', { class: 'label', text: label(s) }),
      h('button', { type: 'button', class: 'small', text: '↑', 'aria-label': `Move ${label(s)} up`, disabled: i === 0, onclick: () => move(i, i - 1) }),
      h('button', { type: 'button', class: 'small', text: '↓', 'aria-label': `Move ${label(s)} down`, disabled: i === segments.length - 1, onclick: () => move(i, i + 1) }),
      h('button', { type: 'button', class: 'small danger', text: 'Remove', 'aria-label': `Remove ${label(s)}`, onclick: () => { segments.splice(i, 1); render(Math.min(i, segments.length - 1)); } }));
      li.addEventListener('keydown', (event) => {
        if (event.target !== li || !event.altKey) return;
        if (event.key === 'ArrowUp') { event.preventDefault(); move(i, i - 1); }
        if (event.key === 'ArrowDown') { event.preventDefault(); move(i, i + 1); }
      });
      li.addEventListener('dragstart', (event) => { dragged = i; li.classList.add('dragging'); event.dataTransfer.effectAllowed = 'move'; event.dataTransfer.setData('text/plain', String(i)); });
      li.addEventListener('dragend', () => li.classList.remove('dragging'));
      li.addEventListener('dragover', (event) => event.preventDefault());
      li.addEventListener('drop', (event) => { event.preventDefault(); if (dragged !== null) move(dragged, i, false); dragged = null; });
      return li;
    }));
    if (!segments.length) timeline.append(h('li', { text: 'Nothing yet: add outputs, uploads or silences.' }));
    build.disabled = !segments.some((s) => s.type !== 'silence');
    if (focusIndex !== null && timeline.children[focusIndex]) timeline.children[focusIndex].focus();
  };

  // Adding: outputs from the library, uploads, silences.
  const search = h('input', { type: 'search', placeholder: 'Search outputs', 'aria-label': 'Search outputs to add' });
  const found = h('ul', { class: 'plain' });
  const findOutputs = async () => {
    try {
      const answer = await get('/api/v1/outputs', { page_size: 15, search: search.value.trim() });
      replace(found, (answer.files || []).map((f) => h('li', { class: 'inline' },
        h('button', { type: 'button', class: 'small', text: 'Add', 'aria-label': `Add ${f.path}`, onclick: () => { segments.push({ type: 'server_file', source: f.path }); render(); } }),
        h('span', { text: `${f.path} (${duration(f.duration_seconds)})` }))));
      if (!answer.files?.length) found.append(h('li', { class: 'muted', text: 'No outputs found.' }));
    } catch (err) {
      showError(errors, err);
    }
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(findOutputs, 250); });
  const uploads = h('input', { type: 'file', multiple: true, accept: 'audio/*,.wav,.mp3,.flac,.ogg,.opus,.m4a,.aac' });
  uploads.addEventListener('change', () => {
    for (const file of uploads.files) segments.push({ type: 'upload', file });
    uploads.value = '';
    render();
  });
  const silence = numberInput('silence', { min: 0.05, max: 10, step: 0.05, value: 1 });
  const addSilence = h('button', { type: 'button', text: 'Add silence', onclick: () => {
    const seconds = Number(silence.value);
    if (!(seconds >= 0.05 && seconds <= 10)) { toast('A silence lasts 0.05–10 s.', 'error'); return; }
    segments.push({ type: 'silence', source: `(${Number(seconds.toFixed(3))}s)` });
    render();
  } });

  // Settings, with the API's names, ranges and defaults.
  const pause = numberInput('pause_duration_ms', { min: 0, max: 3000, step: 50, value: 0 });
  const variation = numberInput('pause_variation_ms', { min: 0, max: 500, step: 10, value: 0 });
  const crossfade = numberInput('crossfade_ms', { min: 0, max: 5000, step: 10, value: 0 });
  const trimThreshold = numberInput('trim_threshold_ms', { min: 50, max: 1000, step: 10, value: 200 });
  const trim = checkbox('Trim silence at the clips’ edges', 'trim', false);
  const level = checkbox('Level every clip (−20 dBFS RMS)', 'normalize_levels', true);
  // Text, not a number input: seeds are 64-bit, past what a JavaScript number holds exactly.
  const seed = h('input', { type: 'text', name: 'seed', inputmode: 'numeric', pattern: '[0-9]*', autocomplete: 'off' });
  const filename = h('input', { type: 'text', name: 'output_filename', placeholder: 'automatic' });
  const project = h('input', { type: 'text', name: 'project', placeholder: 'Library root' });
  const formats = formatPicker((cfg.supported_formats || ['wav']).filter((f) => f !== 'pcm'), ['wav']);
  const build = h('button', { type: 'submit', class: 'primary', text: 'Build and play' });
  const form = h('form', { novalidate: true, 'aria-labelledby': 'concat-title' },
    h('div', { class: 'grid2' },
      field('Pause between clips (ms)', pause, '0–3000'), field('Pause variation (ms)', variation, '0–500'),
      field('Crossfade (ms)', crossfade, '0–5000, between adjacent clips'), field('Trim threshold (ms)', trimThreshold, '50–1000'),
      field('Seed', seed, 'Same seed, same pauses')),
    trim.el, level.el, formats.el,
    h('div', { class: 'grid2' }, field('File name', filename), field('Folder', project)),
    h('div', { class: 'inline' }, build, h('span', { class: 'muted', text: 'The result is stored in the library.' })), errors);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    const settings = {
      pause_duration_ms: Number(pause.value), pause_variation_ms: Number(variation.value), crossfade_ms: Number(crossfade.value),
      trim: trim.input.checked, trim_threshold_ms: Number(trimThreshold.value), normalize_levels: level.input.checked,
      export_formats: formats.selected(),
    };
    if (/^\d+$/.test(seed.value.trim())) settings.seed = BigInt(seed.value.trim());
    if (filename.value.trim()) settings.output_filename = filename.value.trim();
    if (project.value.trim()) settings.project = project.value.trim();
    busy(build, 'Building…', async () => {
      try {
        let answer;
        const files = segments.filter((s) => s.type === 'upload').map((s) => s.file);
        if (files.length) {
          const unique = [...new Set(files)];
          const request = { ...settings, segments: segments.map((s) => (s.type === 'upload' ? { type: 'upload', index: unique.indexOf(s.file) } : { type: s.type, source: s.source })) };
          const body = new FormData();
          body.append('request_json', stringify(request));
          for (const file of unique) body.append('uploaded_files', file);
          answer = await call('POST', '/api/v1/concat/mixed', { form: body, query: { response_mode: 'url' } });
        } else {
          answer = await post('/api/v1/concat', { ...settings, files: segments.map((s) => s.source) }, { query: { response_mode: 'url' } });
        }
        showResult(result, answer, seed);
        toast('Concatenation built.');
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });

  view.append(h('h1', { id: 'concat-title', text: 'Concat builder' }), live,
    h('div', { class: 'cols' },
      h('div', {},
        h('section', { class: 'panel', 'aria-labelledby': 'tl-title' }, h('h2', { id: 'tl-title', text: 'Timeline' }), timeline),
        h('section', { class: 'panel', 'aria-labelledby': 'settings-title' }, h('h2', { id: 'settings-title', text: 'Settings' }), form),
        result),
      h('section', { class: 'panel', 'aria-labelledby': 'add-title' }, h('h2', { id: 'add-title', text: 'Add' }),
        field('Outputs', search), found,
        field('Upload clips (used, not stored)', uploads),
        field('Silence (seconds)', silence), addSilence)));
  render();
  findOutputs();
}

function showResult(slot, answer, seedInput) {
  const first = answer.files?.[0];
  const meta = answer.metadata || {};
  replace(slot, h('section', { class: 'panel', 'aria-labelledby': 'concat-result' },
    h('h2', { id: 'concat-result', text: 'Result' }),
    first ? storedPlayer(first.url, `Play ${first.filename}`) : null,
    facts([
      ['Length', duration(answer.total_duration_seconds)],
      ['Segments', `${meta.file_count ?? answer.file_count} clips, ${meta.silence_segments ?? 0} silences, ${meta.natural_pauses ?? 0} pauses`],
      ['Seed', meta.seed === undefined ? '–' : h('span', {}, String(meta.seed), ' ', h('button', { type: 'button', class: 'small', text: 'Reuse seed', onclick: () => { seedInput.value = String(meta.seed); toast(`Seed ${meta.seed} set.`); } }))],
      ['Took', `${(answer.processing_time_seconds ?? 0).toFixed(2)} s`],
    ]),
    h('div', { class: 'inline' }, (answer.files || []).map((f) => downloadButton(f.url, `${f.format.toUpperCase()} (${(f.size_bytes / 1024).toFixed(0)} KB)`)))));
}
