// Status: health, engines, store, this process's metrics, library statistics and recent
// errors at a glance, refreshed every 10 s while the page is open; and whether the API
// key in this browser is accepted.

import { apiKey, get } from '../api.js';
import { bytes, duration, errorBox, facts, h, replace } from '../dom.js';

const yes = (v) => (v ? 'yes' : 'no');

export default async function statusPage(view) {
  const body = h('div', { class: 'cols3' });
  const refreshed = h('p', { class: 'muted', 'aria-live': 'off' });
  const refresh = h('button', { type: 'button', text: 'Refresh now' });
  view.append(h('h1', { text: 'Status' }), h('div', { class: 'inline' }, refresh, refreshed), body);

  const card = (title, content) => h('section', { class: 'panel', 'aria-label': title }, h('h2', { text: title }), content);
  const load = async () => {
    const [health, metrics, stats, errors, keyCheck] = await Promise.allSettled([
      get('/api/v1/health'), get('/api/v1/metrics'), get('/api/v1/stats'), get('/api/v1/errors/summary'),
      get('/api/v1/voices', { page_size: 1 }),
    ]);
    const cards = [];
    if (health.status === 'fulfilled') {
      const hv = health.value;
      const e = hv.engines || {};
      cards.push(card('Service', facts([
        ['Health', h('span', { class: `badge ${hv.status === 'healthy' ? 'good' : 'poor'}`, text: hv.status })],
        ['Version', hv.version], ['Up for', duration(hv.uptime_seconds)],
        ['Memory', `${hv.system_info?.memory?.rss_mb ?? '–'} MB`], ['CPU', `${hv.system_info?.cpu_percent ?? '–'} %`],
      ])));
      cards.push(card('Engines', facts([
        ['Piper (built-in voice)', `installed: ${yes(e.piper_installed)}, loaded: ${yes(e.piper_loaded)}`],
        ['Chatterbox (cloning, VC)', `installed: ${yes(e.chatterbox_installed)}, loaded: ${yes(e.chatterbox_loaded)}`],
        ['ONNX Runtime', yes(e.onnxruntime_installed)],
        ['Abandoned generations', e.generations_abandoned],
      ])));
      const s = hv.storage || {};
      cards.push(card('Store', facts([
        ['Backend', s.backend], ['Location', s.location],
        ['Reachable', h('span', { class: `badge ${s.reachable ? 'good' : 'poor'}`, text: yes(s.reachable) })],
        ['Latency', s.latency_ms === null || s.latency_ms === undefined ? '–' : `${s.latency_ms} ms`], s.error ? ['Error', s.error] : null,
      ])));
    } else {
      cards.push(card('Service', errorBox(health.reason)));
    }
    const key = apiKey();
    cards.push(card('API key', keyCheck.status === 'fulfilled'
      ? h('p', { class: 'success', text: key ? 'The key saved in this browser is accepted.' : 'No key needed: this server does not require one.' })
      : errorBox(keyCheck.reason)));
    if (metrics.status === 'fulfilled') {
      const p = metrics.value.performance || {};
      cards.push(card('Last hour (this process)', facts([
        ['Generations', p.processing_times?.count ?? 0],
        ['Generation time', p.processing_times?.count ? `avg ${Math.round(p.processing_times.avg_ms)} ms, max ${Math.round(p.processing_times.max_ms)} ms` : '–'],
        ['Requests', p.response_times?.count ?? 0],
        ['Response time', p.response_times?.count ? `avg ${Math.round(p.response_times.avg_ms)} ms` : '–'],
      ])));
    }
    if (stats.status === 'fulfilled') {
      const t = stats.value.totals || {};
      cards.push(card(`Library use (${stats.value.days} days)`, facts([
        ['Files made', t.count], ['Audio', duration(t.seconds)], ['Stored', bytes(t.bytes)],
        ['By engine', Object.entries(stats.value.by_engine || {}).map(([k, v]) => `${k}: ${v.count}`).join(', ') || '–'],
      ])));
    }
    if (errors.status === 'fulfilled') {
      const recent = errors.value.recent_errors || [];
      cards.push(card('Errors (24 h, this process)', h('div', {},
        h('p', { class: 'stat', text: String(errors.value.total_errors ?? 0) }),
        recent.length ? h('ul', {}, recent.slice(0, 5).map((r) => h('li', {}, h('span', { class: 'muted', text: `${r.operation}: ` }), `${r.error_type} — ${r.error_message}`))) : null)));
    }
    replace(body, cards);
    refreshed.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };
  refresh.addEventListener('click', load);
  await load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, 10000);
  return () => clearInterval(timer);
}
