// Jobs: start a long-form job (text or Markdown chapters), follow it live through its
// Server-Sent Events, cancel it, and open its chapters and book.

import { followEvents, get, post, config } from '../api.js';
import { busy, checkbox, duration, field, formatPicker, h, numberInput, replace, showError, toast, when } from '../dom.js';
import { downloadButton, storedPlayer } from '../media.js';
import { voicePicker } from '../voice-picker.js';

const FINAL = ['completed', 'failed', 'cancelled'];

export default async function jobsPage(view) {
  const cfg = await config();
  const controller = new AbortController();
  const title = h('input', { type: 'text', name: 'title', placeholder: 'book' });
  const format = h('select', { name: 'format' },
    h('option', { value: 'markdown', text: 'Markdown: each # heading starts a chapter' }),
    h('option', { value: 'text', text: 'Plain text: one chapter' }));
  const text = h('textarea', { name: 'text', rows: 10, placeholder: '# Chapter one\nIt was a bright cold day…\n\n# Chapter two\n…' });
  const fromFile = h('input', { type: 'file', accept: '.txt,.md,.markdown,text/plain,text/markdown' });
  fromFile.addEventListener('change', async () => {
    const file = fromFile.files[0];
    if (!file) return;
    text.value = await file.text();
    if (!title.value) title.value = file.name.replace(/\.[^.]+$/, '');
    if (/\.(md|markdown)$/i.test(file.name)) format.value = 'markdown';
  });
  const voice = voicePicker({ label: 'Voice' });
  const formats = formatPicker((cfg.supported_formats || ['mp3']).filter((f) => f !== 'pcm'), ['mp3']);
  const captions = checkbox('Captions', 'captions', true);
  const pause = numberInput('chapter_pause_ms', { min: 0, max: 10000, step: 100, value: 2000 });
  const project = h('input', { type: 'text', name: 'project', placeholder: 'jobs/<title>' });
  const start = h('button', { type: 'submit', class: 'primary', text: 'Start job' });
  const errors = h('div', {});
  const form = h('form', { novalidate: true, 'aria-labelledby': 'jobs-new' },
    h('h2', { id: 'jobs-new', text: 'New job' }),
    field('Title', title), field('Text format', format), field('Text', text), field('…or load a file', fromFile),
    voice.el, formats.el, captions.el,
    h('div', { class: 'grid2' }, field('Pause between chapters (ms)', pause, '0 or 50–10000'), field('Folder', project)),
    h('div', { class: 'inline' }, start), errors);

  const list = h('div', {});
  const detail = h('section', { 'aria-live': 'polite' });
  let following = null;

  const loadList = async () => {
    try {
      const answer = await get('/api/v1/jobs');
      const jobs = answer.jobs || [];
      replace(list, jobs.length
        ? h('table', {}, h('thead', {}, h('tr', {}, ['Title', 'Status', 'Progress', 'Started', ''].map((t) => h('th', { text: t })))),
          h('tbody', {}, jobs.slice(0, 20).map((job) => h('tr', {},
            h('td', { text: job.request?.title || 'book' }),
            h('td', {}, h('span', { class: `badge ${job.status}`, text: job.status })),
            h('td', { class: 'num', text: `${Math.round((job.progress?.fraction || 0) * 100)} %` }),
            h('td', { text: when(job.created_at) }),
            h('td', {}, h('button', { type: 'button', class: 'small', text: 'Open', 'aria-label': `Open job ${job.request?.title || job.id}`, onclick: () => follow(job.id) }))))))
        : h('p', { class: 'muted', text: 'No jobs yet.' }));
    } catch (err) {
      replace(list, h('p', { class: 'muted', text: `Jobs could not be listed: ${err.message}` }));
    }
  };

  const follow = async (id) => {
    following?.abort();
    const mine = new AbortController();
    following = mine;
    controller.signal.addEventListener('abort', () => mine.abort());
    let last = null;
    const show = (job) => { last = job; renderJob(job); };
    try {
      show(await get(`/api/v1/jobs/${id}`));
      try {
        await followEvents(`/api/v1/jobs/${id}/events`, (name, job) => {
          if (typeof job === 'object' && job) show(job);
        }, mine.signal);
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        // No event stream here (a buffering proxy or Lambda): poll instead.
      }
      while (!mine.signal.aborted && !FINAL.includes(last?.status)) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        if (!mine.signal.aborted) show(await get(`/api/v1/jobs/${id}`));
      }
      loadList();
    } catch (err) {
      if (err.name !== 'AbortError') showError(detail, err);
    }
  };

  const renderJob = (job) => {
    const progress = job.progress || {};
    const final = FINAL.includes(job.status);
    const cancel = h('button', { type: 'button', class: 'danger', text: 'Cancel job', disabled: final });
    cancel.addEventListener('click', () => busy(cancel, 'Cancelling…', async () => {
      try {
        await post(`/api/v1/jobs/${job.id}/cancel`);
        toast('Job cancelled.');
      } catch (err) {
        showError(detail, err);
      }
    }));
    const eta = progress.estimated_seconds_remaining;
    replace(detail, h('div', { class: 'panel' },
      h('h2', {}, job.request?.title || 'book', ' ', h('span', { class: `badge ${job.status}`, text: job.status })),
      h('label', { for: `progress-${job.id}`, text: `${progress.chunks_done ?? 0} of ${progress.chunks_total || '?'} chunks${eta ? `, about ${duration(eta)} left` : ''}` }),
      h('progress', { id: `progress-${job.id}`, max: 1, value: progress.fraction || 0 }),
      job.error ? h('div', { class: 'error', role: 'alert', text: job.error }) : null,
      (job.warnings || []).length ? h('ul', { class: 'warn' }, job.warnings.map((w) => h('li', { text: w }))) : null,
      h('table', {}, h('thead', {}, h('tr', {}, ['Chapter', 'Chunks', 'Length'].map((t) => h('th', { text: t })))),
        h('tbody', {}, (job.chapters || []).map((c) => h('tr', {},
          h('td', { text: c.title }), h('td', { class: 'num', text: `${c.chunks_done}/${c.chunks_total || '?'}` }),
          h('td', { class: 'num', text: duration(c.duration_seconds) }))))),
      (job.outputs || []).length ? h('div', {}, h('h3', { text: 'Results' }),
        h('ul', {}, job.outputs.map((o) => h('li', {},
          h('div', { text: `${o.kind === 'book' ? 'Book' : `Chapter ${o.chapter ?? ''}`}: ${o.path}` }),
          storedPlayer(o.url, `Play ${o.path}`), downloadButton(o.url))))) : null,
      h('div', { class: 'inline' }, cancel, h('a', { class: 'button', href: '#/library/outputs', text: 'Open outputs in the library' }))));
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    const request = { format: format.value, text: text.value, export_formats: formats.selected(), captions: captions.input.checked, chapter_pause_ms: Number(pause.value) };
    if (title.value.trim()) request.title = title.value.trim();
    if (voice.value()) request.reference_audio_filename = voice.value();
    if (project.value.trim()) request.project = project.value.trim();
    busy(start, 'Starting…', async () => {
      try {
        const answer = await post('/api/v1/jobs', request);
        toast('Job started.');
        loadList();
        follow(answer.job_id);
      } catch (err) {
        showError(errors, err, form);
      }
    });
  });

  view.append(h('h1', { text: 'Long-form jobs' }),
    h('div', { class: 'cols' }, h('div', { class: 'panel' }, form),
      h('div', {}, detail, h('section', { class: 'panel', 'aria-labelledby': 'jobs-recent' }, h('h2', { id: 'jobs-recent', text: 'Recent jobs' }), list))));
  loadList();
  return () => controller.abort();
}
