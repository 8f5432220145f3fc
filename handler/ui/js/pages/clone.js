// Clone: upload or record a reference, read its quality analysis before saving
// (POST /api/v1/voices/analyze stores nothing), then store it (POST /api/v1/voice) and
// speak with it at once.

import { call, config } from '../api.js';
import { busy, checkbox, facts, field, h, replace, showError, toast } from '../dom.js';
import { audioSource } from '../media.js';

export default async function clonePage(view) {
  const cfg = await config();
  const cloning = Boolean(cfg.engines?.chatterbox_installed);
  const form = h('form', { novalidate: true, 'aria-labelledby': 'clone-title' });
  const analysis = h('section', { 'aria-live': 'polite' });
  const errors = h('div', {});
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const description = h('input', { type: 'text', name: 'description' });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: 'e.g. narrator, warm' });
  const folder = h('input', { type: 'text', name: 'folder_path', placeholder: 'Library root' });
  const overwrite = checkbox('Replace a voice with the same file name', 'overwrite', false);
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save voice', disabled: true });
  const done = h('div', { 'aria-live': 'polite' });

  const source = audioSource({
    label: 'Reference recording', name: 'voice_file',
    onChange: (file) => {
      save.disabled = !file;
      replace(done);
      replace(errors);
      if (!file) {
        replace(analysis);
        return;
      }
      if (!name.value) name.value = file.name.replace(/\.[^.]+$/, '');
      analyse(file);
    },
  });

  const analyse = async (file) => {
    replace(analysis, h('p', { class: 'muted', text: 'Analysing the recording…' }));
    const body = new FormData();
    body.append('voice_file', file);
    try {
      const answer = await call('POST', '/api/v1/voices/analyze', { form: body });
      replace(analysis, qualityView(answer.quality));
    } catch (err) {
      replace(analysis);
      showError(errors, err, form);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = source.file();
    if (!file) return;
    replace(errors);
    busy(save, 'Saving…', async () => {
      const body = new FormData();
      for (const [key, input] of [['name', name], ['description', description], ['tags', tags], ['folder_path', folder]]) {
        if (input.value.trim()) body.append(key, input.value.trim());
      }
      if (overwrite.input.checked) body.append('overwrite', 'true');
      body.append('voice_file', file);
      try {
        const answer = await call('POST', '/api/v1/voice', { form: body });
        const voice = answer.voice_metadata;
        toast(`Voice “${voice.name}” saved.`);
        replace(done, h('div', { class: 'panel' },
          h('p', { class: 'success' }, `Saved as ${voice.url}.`),
          h('a', { class: 'button', href: `#/speak?voice=${encodeURIComponent(voice.url)}`, text: `Speak with “${voice.name}”` }),
          cloning ? null : h('p', { class: 'muted', text: 'This server has no Chatterbox model installed, so it can store the voice but not clone it yet.' })));
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });

  form.append(
    source.el,
    field('Name', name),
    field('Description', description),
    field('Tags', tags, 'Comma-separated'),
    field('Folder', folder),
    overwrite.el,
    h('div', { class: 'inline' }, save),
    errors, done);
  view.append(
    h('h1', { id: 'clone-title', text: 'Clone a voice' }),
    h('p', { class: 'muted', text: 'A clean 10–30 s recording of one speaker works best. The analysis runs before anything is stored.' }),
    h('div', { class: 'cols' }, h('div', { class: 'panel' }, form), analysis));
}

/** The quality report of a reference: verdict, score, figures and warnings. */
export function qualityView(quality) {
  if (!quality) return h('p', { class: 'muted', text: 'No analysis.' });
  const db = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} dB`);
  return h('div', { class: 'panel' },
    h('h2', {}, 'Quality: ', h('span', { class: `badge ${quality.verdict}`, text: quality.verdict }), ` ${quality.score} / 100`),
    quality.warnings?.length
      ? h('ul', {}, quality.warnings.map((w) => h('li', {}, w.message, h('span', { class: 'muted', text: ` (−${w.penalty})` }))))
      : h('p', { class: 'success', text: 'No warnings: clone away.' }),
    facts([
      ['Length', `${quality.duration_seconds.toFixed(1)} s`],
      ['Sample rate', `${quality.sample_rate} Hz, ${quality.channels} channel(s)`],
      ['Loudness', quality.loudness_lufs === null ? '–' : `${quality.loudness_lufs.toFixed(1)} LUFS`],
      ['Peak', `${quality.peak_dbfs.toFixed(1)} dBFS`],
      ['Signal to noise', db(quality.snr_db)],
      ['Speech', `${Math.round(quality.speech_ratio * 100)} % of the clip`],
    ]));
}
