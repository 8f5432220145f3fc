// Building blocks of the pages: element construction, labelled fields, readable errors,
// toasts and formatting. No framework: every page builds its DOM with `h`.

let nextId = 0;

/** A fresh element id with a readable prefix. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, `dataset`, boolean
 * and string attributes (`false`/`null` leave an attribute out). Children may be nodes,
 * strings, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (key === 'checked' || key === 'selected') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A labelled control: `<div class=field><label for=id>…</label>control<div hint/></div>`.
 * The control gets an id (and `aria-describedby` for the hint) when it has none.
 */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const parts = [h('label', { for: control.id, text: label }), control];
  if (hint) {
    const hintEl = h('div', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', { class: 'field' }, parts);
}

/** A checkbox with its label after it. */
export function checkbox(label, name, checked) {
  const input = h('input', { type: 'checkbox', name, id: uid(name), checked });
  return { input, el: h('label', { class: 'check', for: input.id }, input, label) };
}

/** A number input carrying the API's range and default. */
export function numberInput(name, { min, max, step = 'any', value } = {}) {
  return h('input', { type: 'number', name, min, max, step, value: value ?? '', inputmode: 'decimal' });
}

/** Checkboxes for export formats; returns `{el, selected()}`. */
export function formatPicker(formats, chosen, legend = 'Export formats') {
  const boxes = formats.map((f) => {
    const box = checkbox(f, 'export_formats', chosen.includes(f));
    box.input.value = f;
    return box;
  });
  const el = h('fieldset', { class: 'inline' }, h('legend', { text: legend }), boxes.map((b) => b.el));
  return {
    el,
    selected: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value),
    set: (list) => boxes.forEach((b) => { b.input.checked = list.includes(b.input.value); }),
  };
}

/** Renders an error (an `ApiError` or any Error) as a readable box with a hint. */
export function errorBox(error) {
  const lines = [h('p', {}, h('strong', { text: error.title || 'Something went wrong' }), ' ', error.message)];
  if (error.hint) lines.push(h('p', { text: error.hint }));
  if (error.code || error.requestId) {
    lines.push(h('p', { class: 'code' },
      [error.status ? `HTTP ${error.status}` : null, error.code, error.requestId ? `request ${error.requestId}` : null]
        .filter(Boolean).join(' · ')));
  }
  return h('div', { class: 'error', role: 'alert' }, lines);
}

/** Shows `error` in `slot` and marks the input its parameter names, if the form has one. */
export function showError(slot, error, form) {
  replace(slot, errorBox(error));
  if (form && error.param) {
    const input = form.querySelector(`[name="${CSS.escape(error.param)}"]`);
    if (input) {
      // A parameter in a folded section is unfolded so the user sees what to fix.
      for (let d = input.closest('details'); d; d = d.parentElement?.closest('details')) d.open = true;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.addEventListener('input', () => input.removeAttribute('aria-invalid'), { once: true });
    }
  }
}

/** A short message in the corner, read out by screen readers. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 4500);
}

/** Runs `work` with `button` disabled and a busy label; errors go to `slot`. */
export async function busy(button, label, work) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = old;
  }
}

/** Seconds as `m:ss.s` (or `h:mm:ss`). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  const s = Number(seconds);
  if (s >= 3600) return new Date(s * 1000).toISOString().slice(11, 19);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
}

/** Bytes in KB/MB. */
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** An RFC 3339 time in the browser's locale. */
export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A definition list of `[term, value]` pairs (values may be nodes). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v ?? '–')]));
}

/** A modal confirmation; resolves true when confirmed. */
export function confirmDialog(title, body, confirmLabel = 'Delete') {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const ok = h('button', { class: 'danger', type: 'submit', value: 'ok', text: confirmLabel });
    const cancel = h('button', { type: 'submit', value: 'cancel', text: 'Cancel' });
    const dialog = h('dialog', { 'aria-labelledby': titleId },
      h('form', { method: 'dialog' }, h('h2', { id: titleId, text: title }), h('p', {}, body),
        h('div', { class: 'inline' }, cancel, ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Query-string parameters of the current hash route (`#/page?x=1`). */
export function routeParams() {
  const hash = location.hash || '';
  const at = hash.indexOf('?');
  return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : '');
}
