// Library: voices, VC inputs and outputs with the folder tree, search, tag and type
// filters, pages, play and download, voice metadata editing (moves included), bulk upload,
// multi-select delete with confirmation, and an output's parameters with "generate again".

import { call, del, fileUrl, get } from '../api.js';
import { busy, bytes, checkbox, confirmDialog, duration, field, h, replace, showError, toast, uid, when } from '../dom.js';
import { downloadButton, playOnce } from '../media.js';
import { CONCAT_KEY } from './concat.js';
import { REGENERATE_KEY } from './speak.js';

const AREAS = {
  voices: {
    title: 'Voices', list: '/api/v1/voices', items: 'voices', total: 'total_voices', folders: '/api/v1/voices/folders',
    path: (v) => v.url, one: '/api/v1/voice/', many: '/api/v1/voices', upload: '/api/v1/voices/bulk', download: 'voices',
  },
  vc_inputs: {
    title: 'VC inputs', list: '/api/v1/vc_inputs', items: 'files', total: 'total_files', folders: '/api/v1/vc_inputs/folders',
    path: (v) => v.path, one: '/api/v1/vc_input/', many: '/api/v1/vc_inputs', upload: '/api/v1/vc_inputs/bulk', download: 'vc_inputs',
  },
  outputs: {
    title: 'Outputs', list: '/api/v1/outputs', items: 'files', total: 'total_files', folders: '/api/v1/outputs/folders',
    path: (v) => v.path, one: '/api/v1/output/', many: '/api/v1/outputs', upload: null, download: 'outputs',
  },
};
const PAGE_SIZE = 25;

export default async function libraryPage(view, sub) {
  const areaName = AREAS[sub] ? sub : 'voices';
  const area = AREAS[areaName];
  const state = { folder: '', search: '', tag: '', type: '', page: 1, selected: new Set(), items: [] };

  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Library sections' },
    Object.entries(AREAS).map(([name, a]) => h('a', { href: `#/library/${name}`, 'aria-current': name === areaName ? 'page' : null, text: a.title })));
  const tree = h('nav', { class: 'tree panel', 'aria-label': 'Folders' });
  const search = h('input', { type: 'search', name: 'search', placeholder: `Search ${area.title.toLowerCase()}`, 'aria-label': `Search ${area.title.toLowerCase()}` });
  const tag = h('input', { type: 'text', name: 'tag', placeholder: 'exact tag', 'aria-label': 'Filter by tag' });
  const type = h('select', { name: 'generation_type', 'aria-label': 'Filter by kind' },
    ['', 'tts', 'vc', 'concat'].map((t) => h('option', { value: t, text: t ? t.toUpperCase() : 'All kinds' })));
  const deleteSelected = h('button', { type: 'button', class: 'danger', text: 'Delete selected', disabled: true });
  const table = h('div', {});
  const pager = h('div', { class: 'inline' });
  const errors = h('div', {});
  const detail = h('div', {});

  const refreshSelection = () => {
    deleteSelected.disabled = state.selected.size === 0;
    deleteSelected.textContent = state.selected.size ? `Delete selected (${state.selected.size})` : 'Delete selected';
  };

  const loadTree = async () => {
    try {
      const answer = await get(area.folders);
      // The API lists every folder flat, each with its subfolders' paths.
      const byPath = new Map((answer.folders || []).map((f) => [f.path, f]));
      const pick = (path) => () => { state.folder = path; state.page = 1; loadTree(); load(); };
      const node = (folder) => h('li', {},
        h('button', { type: 'button', 'aria-current': state.folder === folder.path ? 'true' : null, onclick: pick(folder.path) },
          `${folder.path.split('/').pop()} (${folder.file_count ?? folder.voice_count ?? 0})`),
        folder.subfolders?.length
          ? h('ul', {}, folder.subfolders.map((p) => byPath.get(p)).filter(Boolean).map(node))
          : null);
      const roots = [...byPath.values()].filter((f) => !byPath.has(f.path.split('/').slice(0, -1).join('/')));
      replace(tree, h('h2', { class: 'visually-hidden', text: 'Folders' }), h('ul', {},
        h('li', {}, h('button', { type: 'button', 'aria-current': state.folder === '' ? 'true' : null, onclick: pick('') }, 'All folders')),
        roots.map(node)));
    } catch (err) {
      replace(tree, h('p', { class: 'muted', text: `Folders unavailable: ${err.message}` }));
    }
  };

  const load = async () => {
    replace(errors);
    const query = { page: state.page, page_size: PAGE_SIZE, folder: state.folder, search: state.search };
    if (areaName === 'voices') query.tag = state.tag;
    if (areaName === 'outputs') query.generation_type = state.type;
    try {
      const answer = await get(area.list, query);
      if (!(answer[area.items] || []).length && state.page > 1 && answer.total_pages >= 1) {
        // The last page emptied (a delete): show the new last page.
        state.page = Math.max(1, answer.total_pages);
        return load();
      }
      state.items = answer[area.items] || [];
      state.selected.clear();
      refreshSelection();
      renderTable(answer);
    } catch (err) {
      replace(table);
      showError(errors, err);
    }
  };

  const renderTable = (answer) => {
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all on this page' });
    all.addEventListener('change', () => {
      for (const box of table.querySelectorAll('tbody input[type=checkbox]')) {
        box.checked = all.checked;
        box.dispatchEvent(new Event('change'));
      }
    });
    const rows = state.items.map((item) => row(item));
    replace(table, state.items.length
      ? h('table', {}, h('caption', { class: 'visually-hidden', text: `${area.title}, page ${answer.page}` }),
        h('thead', {}, h('tr', {}, h('th', {}, all), h('th', { text: 'Name' }), h('th', { text: 'Folder' }),
          h('th', { text: 'Length' }), h('th', { text: 'Size' }), h('th', { text: areaName === 'voices' ? 'Tags / quality' : areaName === 'outputs' ? 'Kind / created' : 'Created' }), h('th', { text: 'Actions' }))),
        h('tbody', {}, rows))
      : h('p', { class: 'muted', text: `No ${area.title.toLowerCase()} here.` }));
    replace(pager,
      h('button', { type: 'button', text: 'Previous page', disabled: !answer.has_previous, onclick: () => { state.page -= 1; load(); } }),
      h('span', { text: `Page ${answer.page} of ${Math.max(1, answer.total_pages)} · ${answer[area.total] ?? answer.count} in all` }),
      h('button', { type: 'button', text: 'Next page', disabled: !answer.has_next, onclick: () => { state.page += 1; load(); } }));
  };

  const row = (item) => {
    const path = area.path(item);
    const name = item.name || item.filename;
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${name}` });
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(path);
      else state.selected.delete(path);
      refreshSelection();
    });
    const url = fileUrl(area.download, path);
    const actions = [
      h('button', { type: 'button', class: 'small', text: 'Play', 'aria-label': `Play ${name}`, onclick: () => playOnce(url).catch((e) => toast(e.message, 'error')) }),
      downloadButton(url),
    ];
    if (areaName === 'voices') {
      actions.push(h('button', { type: 'button', class: 'small', text: 'Edit', 'aria-label': `Edit ${name}`, onclick: () => editVoice(item, () => { loadTree(); load(); }) }));
      actions.push(h('a', { class: 'button small', href: `#/speak?voice=${encodeURIComponent(path)}`, text: 'Speak', 'aria-label': `Speak with ${name}` }));
    }
    if (areaName === 'outputs') {
      actions.push(h('button', { type: 'button', class: 'small', text: 'Details', 'aria-label': `Details of ${name}`, onclick: () => showDetails(item) }));
      actions.push(h('button', { type: 'button', class: 'small', text: 'Add to concat', 'aria-label': `Add ${name} to the concatenation`, onclick: () => addToConcat(path) }));
    }
    actions.push(h('button', {
      type: 'button', class: 'small danger', text: 'Delete', 'aria-label': `Delete ${name}`,
      onclick: async () => {
        if (!(await confirmDialog(`Delete ${name}?`, `${path} and its sidecar will be deleted. This cannot be undone.`))) return;
        try {
          await del(`${area.one}${encodeURIComponent(path)}`, { confirm: true });
          toast(`${name} deleted.`);
          loadTree();
          load();
        } catch (err) {
          showError(errors, err);
        }
      },
    }));
    const extra = areaName === 'voices'
      ? h('div', {}, h('div', { class: 'tags' }, (item.tags || []).map((t) => h('button', { type: 'button', class: 'tag', 'aria-pressed': state.tag === t.toLowerCase() ? 'true' : 'false', text: t, onclick: () => { tag.value = state.tag === t.toLowerCase() ? '' : t.toLowerCase(); state.tag = tag.value; state.page = 1; load(); } }))),
        item.quality ? h('span', { class: `badge ${item.quality.verdict}`, text: `${item.quality.verdict} ${item.quality.score}` }) : null)
      : h('span', {}, item.generation_type ? h('span', { class: 'badge', text: item.generation_type.toUpperCase() }) : null, ' ', when(item.created_date));
    return h('tr', {}, h('td', {}, box), h('td', {}, h('strong', { text: name }), item.filename !== name ? h('div', { class: 'muted', text: item.filename }) : null,
        item.text ? h('div', { class: 'muted', text: `“${item.text}”` }) : null),
      h('td', { text: item.folder_path || '—' }), h('td', { class: 'num', text: duration(item.duration_seconds) }),
      h('td', { class: 'num', text: bytes(item.file_size_bytes) }), h('td', {}, extra), h('td', {}, h('div', { class: 'inline' }, actions)));
  };

  const showDetails = (item) => {
    const parameters = item.parameters || {};
    const again = item.generation_type === 'tts' && parameters.text
      ? h('button', { type: 'button', class: 'primary', text: 'Generate again with these settings', onclick: () => {
        sessionStorage.setItem(REGENERATE_KEY, JSON.stringify(parameters));
        location.hash = '#/speak';
      } })
      : null;
    replace(detail, h('section', { class: 'panel', 'aria-labelledby': 'detail-title' },
      h('h2', { id: 'detail-title', text: item.filename }),
      h('p', {}, `${item.generation_type} · ${when(item.created_date)} · ${duration(item.duration_seconds)} · ${item.sample_rate} Hz`),
      item.source_files?.length ? h('p', {}, 'Made from: ', item.source_files.join(', ')) : null,
      h('h3', { text: 'Generation parameters' }),
      h('pre', { text: JSON.stringify(parameters, null, 2) }),
      again));
    detail.scrollIntoView({ block: 'nearest' });
  };

  deleteSelected.addEventListener('click', async () => {
    const names = [...state.selected];
    const listText = names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more` : names.join(', ');
    if (!(await confirmDialog(`Delete ${names.length} file(s)?`, `${listText} will be deleted with their sidecars. This cannot be undone.`))) return;
    await busy(deleteSelected, 'Deleting…', async () => {
      try {
        const answer = await del(area.many, { confirm: true, filenames: names.join(',') });
        toast(answer.message || `${names.length} deleted.`);
        loadTree();
        load();
      } catch (err) {
        showError(errors, err);
      }
    });
  });

  let timer = null;
  const debounced = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.search = search.value.trim(); state.tag = tag.value.trim(); state.page = 1; load(); }, 300);
  };
  search.addEventListener('input', debounced);
  tag.addEventListener('input', debounced);
  type.addEventListener('change', () => { state.type = type.value; state.page = 1; load(); });

  const filters = h('div', { class: 'inline' }, search,
    areaName === 'voices' ? tag : null, areaName === 'outputs' ? type : null, deleteSelected);
  view.append(h('h1', { text: 'Library' }), tabs,
    h('div', { class: 'library' }, tree,
      h('div', {}, area.upload ? uploader(area, () => { loadTree(); load(); }) : null,
        h('div', { class: 'panel' }, filters, errors, table, pager), detail)));
  await Promise.all([loadTree(), load()]);
}

function addToConcat(path) {
  const list = JSON.parse(sessionStorage.getItem(CONCAT_KEY) || '[]');
  list.push(path);
  sessionStorage.setItem(CONCAT_KEY, JSON.stringify(list));
  toast(`${path} added to the concatenation (${list.length} item(s)); open Concat to arrange it.`);
}

/** Bulk upload: many files, one folder and tags, each file stored or reported. */
function uploader(area, done) {
  const files = h('input', { type: 'file', multiple: true, name: 'files', accept: 'audio/*,.wav,.mp3,.flac,.ogg,.opus,.m4a,.aac' });
  const folder = h('input', { type: 'text', name: 'folder_path', placeholder: 'Library root' });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: 'comma-separated' });
  const overwrite = checkbox('Replace files that exist', 'overwrite', false);
  const send = h('button', { type: 'submit', text: 'Upload' });
  const report = h('div', { 'aria-live': 'polite' });
  // VC inputs carry a transcript each: one field per chosen file, sent in the manifest.
  const transcripts = h('div', {});
  const withTranscripts = area.download === 'vc_inputs';
  if (withTranscripts) {
    files.addEventListener('change', () => replace(transcripts, [...files.files].map((file) =>
      field(`Transcript of ${file.name}`, h('input', { type: 'text', dataset: { file: file.name } })))));
  }
  const form = h('form', { novalidate: true, 'aria-label': `Upload ${area.title.toLowerCase()}` },
    h('div', { class: 'grid2' }, field('Files', files), field('Folder', folder), area.download === 'voices' ? field('Tags', tags) : null),
    transcripts, overwrite.el, send, report);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!files.files.length) {
      toast('Choose one or more files first.', 'error');
      return;
    }
    busy(send, 'Uploading…', async () => {
      // Text fields go before the files: the API applies them to the files after them.
      const body = new FormData();
      if (folder.value.trim()) body.append('folder_path', folder.value.trim());
      if (tags.value.trim() && area.download === 'voices') body.append('tags', tags.value.trim());
      body.append('overwrite', overwrite.input.checked ? 'true' : 'false');
      const manifest = {};
      for (const input of transcripts.querySelectorAll('input[data-file]')) {
        if (input.value.trim()) manifest[input.dataset.file] = { text: input.value.trim() };
      }
      if (Object.keys(manifest).length) body.append('manifest', JSON.stringify(manifest));
      for (const file of files.files) body.append('files', file);
      try {
        const answer = await call('POST', area.upload, { form: body });
        replace(report, h('ul', {}, answer.results.map((r) => h('li', { class: r.status === 'rejected' ? 'warn' : null },
          `${r.filename}: ${r.status}${r.path ? ` as ${r.path}` : ''}${r.reason ? ` — ${r.reason}` : ''}`))));
        files.value = '';
        replace(transcripts);
        done();
      } catch (err) {
        showError(report, err, form);
      }
    });
  });
  return h('details', { class: 'panel' }, h('summary', { text: `Upload ${area.title.toLowerCase()}` }), form);
}

/** The metadata dialog of a voice: name, description, tags and folder (a move). */
function editVoice(voice, done) {
  const titleId = uid('edit');
  const name = h('input', { type: 'text', name: 'name', value: voice.name });
  const description = h('input', { type: 'text', name: 'description', value: voice.description || '' });
  const tags = h('input', { type: 'text', name: 'tags', value: (voice.tags || []).join(', ') });
  const folder = h('input', { type: 'text', name: 'folder_path', value: voice.folder_path || '' });
  const errors = h('div', {});
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save' });
  const cancel = h('button', { type: 'button', text: 'Cancel' });
  const form = h('form', { novalidate: true }, h('h2', { id: titleId, text: `Edit ${voice.name}` }),
    field('Name', name), field('Description', description), field('Tags', tags, 'Comma-separated'),
    field('Folder', folder, 'A new folder moves the voice and its sidecar (empty: the library root)'), errors, h('div', { class: 'inline' }, cancel, save));
  const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, 'Saving…', async () => {
      const update = {
        name: name.value.trim(), description: description.value.trim(),
        tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean),
        folder_path: folder.value.trim(),
      };
      try {
        await call('PUT', `/api/v1/voice/${encodeURIComponent(voice.url)}/metadata`, { json: update });
        toast(`${update.name || voice.name} saved.`);
        dialog.close();
        done();
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}
