// Convert: re-speak a recording (uploaded, recorded, or a stored VC input) in a stored
// voice with POST /api/v1/vc, and compare the input and the result side by side.

import { call, config, fileUrl, get, post } from '../api.js';
import { busy, field, formatPicker, h, numberInput, replace, showError, toast } from '../dom.js';
import { audioSource, downloadButton, storedPlayer } from '../media.js';
import { voicePicker } from '../voice-picker.js';

export default async function convertPage(view) {
  const cfg = await config();
  const defaults = cfg.vc_defaults || {};
  const form = h('form', { novalidate: true, 'aria-labelledby': 'convert-title' });
  const errors = h('div', {});
  const result = h('section', { 'aria-live': 'polite' });
  const source = audioSource({ label: 'Recording to convert', name: 'input_audio' });
  const stored = h('select', { name: 'input_audio_source' }, h('option', { value: '', text: '— or upload / record above —' }));
  const target = voicePicker({ label: 'Target voice', builtin: false, name: 'target_voice_source', selectableWithoutCloning: true });
  const chunk = numberInput('chunk_sec', { min: 1, max: 300, step: 1, value: defaults.chunk_sec ?? 60 });
  const overlap = numberInput('overlap_sec', { min: 0, max: 5, step: 0.05, value: defaults.overlap_sec ?? 0.1 });
  const project = h('input', { type: 'text', name: 'project', placeholder: 'Library root' });
  const formats = formatPicker(cfg.supported_formats || ['wav', 'mp3'], defaults.export_formats || ['wav', 'mp3']);
  const run = h('button', { type: 'submit', class: 'primary', text: 'Convert' });

  get('/api/v1/vc_inputs', { page_size: 100 }).then((list) => {
    for (const item of list.files || []) stored.append(h('option', { value: item.path, text: `${item.path}${item.text ? ` — “${item.text.slice(0, 40)}”` : ''}` }));
  }).catch(() => {});

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    const file = source.file();
    const settings = {
      target_voice_source: target.value(),
      chunk_sec: Number(chunk.value), overlap_sec: Number(overlap.value),
      export_formats: formats.selected(),
    };
    if (project.value.trim()) settings.project = project.value.trim();
    busy(run, 'Converting…', async () => {
      try {
        let answer;
        let before;
        if (stored.value && !file) {
          answer = await post('/api/v1/vc', { ...settings, input_audio_source: stored.value }, { query: { response_mode: 'url' } });
          before = storedPlayer(fileUrl('vc_inputs', stored.value), 'Play the input');
        } else {
          const body = new FormData();
          for (const [k, v] of Object.entries(settings)) body.append(k, Array.isArray(v) ? v.join(',') : String(v));
          if (file) body.append('input_audio', file);
          answer = await call('POST', '/api/v1/vc', { form: body, query: { response_mode: 'url' } });
          before = h('audio', { controls: true, src: file ? URL.createObjectURL(file) : null, 'aria-label': 'Play the input' });
        }
        const first = answer.output_files?.[0];
        replace(result, h('div', { class: 'panel' },
          h('h2', { text: 'Before and after' }),
          h('div', { class: 'players' },
            h('div', {}, h('h3', { text: 'Input' }), before),
            h('div', {}, h('h3', { text: `Converted (${answer.duration_seconds?.toFixed(1) ?? '?'} s)` }),
              first ? storedPlayer(first.url, 'Play the converted audio') : null)),
          h('div', { class: 'inline' }, (answer.output_files || []).map((f) => downloadButton(f.url, f.format.toUpperCase())))));
        toast('Conversion ready.');
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });

  form.append(source.el, field('Stored VC input', stored), target.el,
    h('div', { class: 'grid2' },
      field('Chunk length (s)', chunk, '1–300'),
      field('Chunk overlap (s)', overlap, '0–5, shorter than a chunk')),
    formats.el, field('Folder', project), h('div', { class: 'inline' }, run), errors);
  const cannot = cfg.engines?.chatterbox_installed
    ? null
    : h('p', { class: 'warn', role: 'note', text: 'Voice conversion needs the Chatterbox model, which this server has not installed: conversions will be refused until it is.' });
  view.append(h('h1', { id: 'convert-title', text: 'Convert a recording' }), cannot,
    h('div', { class: 'cols' }, h('div', { class: 'panel' }, form), result));
}
