// The voice picker shared by Speak, Convert and Jobs: search, voices grouped by folder,
// the built-in voice, a sample button, and voices the server cannot use right now shown
// disabled with the reason.

import { config, fileUrl, get, post } from './api.js';
import { h, replace, toast, uid } from './dom.js';
import { playOnce } from './media.js';

const PAGE = 100;

/**
 * Options: `label`, `builtin` (offer the built-in voices; default true), `name` (the
 * request parameter, so an error naming it marks this control), `onChange(value)`, and
 * `selectableWithoutCloning` (stored voices stay selectable, marked, when the server cannot
 * clone: for pages with no other choice, where the server's answer then explains).
 * The value is '' for the built-in voice (`builtinId()` tells which) or a stored voice's path.
 */
export function voicePicker({ label = 'Voice', builtin = true, name = 'reference_audio_filename', onChange, selectableWithoutCloning = false } = {}) {
  const selectId = uid('voice');
  const search = h('input', { type: 'search', placeholder: 'Search voices', 'aria-label': `Search ${label.toLowerCase()}s`, autocomplete: 'off' });
  const select = h('select', { id: selectId, name });
  const reason = h('div', { class: 'hint', id: `${selectId}-reason`, 'aria-live': 'polite' });
  select.setAttribute('aria-describedby', reason.id);
  const sample = h('button', { type: 'button', class: 'small', text: 'Play sample' });
  let builtinVoices = [];
  let stored = [];
  let cloning = false;
  let wanted = null;
  let timer = null;

  const describe = () => {
    const option = select.selectedOptions[0];
    reason.textContent = option?.dataset.reason || option?.dataset.about || '';
    sample.disabled = !option || option.value === '__none';
  };

  const render = () => {
    const keep = wanted ?? select.value;
    const groups = [];
    if (builtin) {
      groups.push(h('optgroup', { label: 'Built-in' },
        builtinVoices.map((v) => h('option', { value: '', dataset: { builtin: v.id, about: 'Built-in voice (Piper, no cloning).' }, text: v.name }))));
    }
    const byFolder = new Map();
    for (const v of stored) {
      const folder = v.folder_path || 'Library root';
      if (!byFolder.has(folder)) byFolder.set(folder, []);
      byFolder.get(folder).push(v);
    }
    for (const [folder, voices] of byFolder) {
      groups.push(h('optgroup', { label: folder }, voices.map((v) => {
        const verdict = v.quality ? `quality ${v.quality.verdict} (${v.quality.score})` : 'not analysed';
        const about = `${v.url} · ${v.duration_seconds ? `${v.duration_seconds.toFixed(1)} s` : ''} · ${verdict}`;
        return h('option', {
          value: v.url, disabled: !cloning && !selectableWithoutCloning,
          dataset: cloning ? { about } : { reason: 'Cannot be used: cloning needs the Chatterbox model, which this server has not installed.', about },
          text: cloning ? v.name : `${v.name} (needs Chatterbox)`,
        });
      })));
    }
    if (!groups.length || (!builtin && !stored.length)) {
      groups.push(h('option', { value: '__none', disabled: true, text: search.value ? 'No voice matches' : 'No stored voices yet' }));
    }
    replace(select, groups);
    const match = [...select.options].find((o) => o.value === keep && !o.disabled);
    if (match) match.selected = true;
    else {
      const first = [...select.options].find((o) => !o.disabled);
      if (first) first.selected = true;
    }
    wanted = null;
    describe();
  };

  const load = async () => {
    try {
      const cfg = await config();
      cloning = Boolean(cfg.engines?.chatterbox_installed);
      if (builtin && !builtinVoices.length) {
        const all = await get('/v1/audio/voices');
        builtinVoices = (all.voices || []).filter((v) => v.type === 'builtin');
      }
      const list = await get('/api/v1/voices', { page_size: PAGE, search: search.value.trim() });
      stored = list.voices || [];
      render();
      if ((list.total_voices || 0) > PAGE) reason.textContent = `Showing ${PAGE} of ${list.total_voices} voices: search to narrow.`;
    } catch (err) {
      reason.textContent = `Voices could not be listed: ${err.message}`;
    }
  };

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  select.addEventListener('change', () => {
    describe();
    onChange?.(select.value);
  });
  sample.addEventListener('click', async () => {
    const option = select.selectedOptions[0];
    if (!option) return;
    try {
      if (option.value) {
        await playOnce(fileUrl('voices', option.value));
      } else {
        const blob = await post('/v1/audio/speech', {
          model: 'piper', voice: option.dataset.builtin, input: 'This is the built-in voice.', response_format: 'wav',
        });
        const audio = new Audio(URL.createObjectURL(blob));
        await audio.play();
      }
    } catch (err) {
      toast(`Sample could not play: ${err.message}`, 'error');
    }
  });

  const el = h('div', { class: 'field' },
    h('label', { for: selectId, text: label }),
    search,
    h('div', { class: 'inline' }, select, sample),
    reason);
  load();
  return {
    el,
    value: () => (select.value === '__none' ? '' : select.value),
    builtinId: () => select.selectedOptions[0]?.dataset.builtin || null,
    select: (path) => {
      wanted = path;
      search.value = '';
      return load();
    },
    refresh: load,
  };
}
