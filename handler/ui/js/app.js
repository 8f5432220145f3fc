// The studio's shell: hash routes to pages, the API key box, and keyboard shortcuts
// (Alt+1…7 switch pages, Ctrl+Enter runs the page's main action).

import { apiKey, setApiKey } from './api.js';
import { errorBox, h, replace, toast } from './dom.js';
import speak from './pages/speak.js';
import clone from './pages/clone.js';
import convert from './pages/convert.js';
import library from './pages/library.js';
import concat from './pages/concat.js';
import jobs from './pages/jobs.js';
import status from './pages/status.js';

const PAGES = { speak, clone, convert, library, concat, jobs, status };
const TITLES = { speak: 'Speak', clone: 'Clone', convert: 'Convert', library: 'Library', concat: 'Concat', jobs: 'Jobs', status: 'Status' };
const ORDER = Object.keys(PAGES);

let cleanup = null;
let rendering = 0;

function currentPage() {
  const route = (location.hash || '').replace(/^#\/?/, '').split('?')[0];
  const [page, ...rest] = route.split('/');
  return { page: PAGES[page] ? page : 'speak', sub: rest.join('/') };
}

async function show() {
  const { page, sub } = currentPage();
  const main = document.getElementById('main');
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  const token = ++rendering;
  document.title = `${TITLES[page]} · Speech Studio`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'page', dataset: { page } });
  replace(main, view);
  try {
    const result = await PAGES[page](view, sub);
    if (token === rendering) cleanup = result || null;
    else if (typeof result === 'function') result();
  } catch (err) {
    view.append(errorBox(err));
  }
}

function setupKey() {
  const form = document.getElementById('key-form');
  const input = document.getElementById('api-key');
  input.value = apiKey();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    toast(input.value.trim() ? 'API key saved in this browser.' : 'API key removed.');
    show();
  });
}

function setupShortcuts() {
  document.addEventListener('keydown', (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey && /^[1-7]$/.test(event.key)) {
      event.preventDefault();
      location.hash = `#/${ORDER[Number(event.key) - 1]}`;
    } else if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      const primary = document.querySelector('main button.primary:not(:disabled)');
      if (primary) {
        event.preventDefault();
        primary.click();
      }
    }
  });
}

window.addEventListener('hashchange', () => {
  // Focus moves into the new page (its own first field, else the page itself), so
  // keyboard and screen-reader users start there.
  show().then(() => {
    const main = document.getElementById('main');
    if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
  });
});
// The skip link focuses the page instead of changing the hash, which holds the route.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
setupKey();
setupShortcuts();
show();
