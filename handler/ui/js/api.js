// The one way the pages reach the server: the documented API, with the API key from the
// browser's storage as a bearer token, and both error envelopes turned into `ApiError`.

const KEY_STORAGE = 'speech-studio.api-key';

/** The saved API key ('' when none). */
export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

/** Saves (or, when empty, forgets) the API key. */
export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled (private mode): the key lasts for this page only.
  }
  sessionKey = key;
}

let sessionKey = null;

function currentKey() {
  return sessionKey ?? apiKey();
}

/** An error answer of the API, in either envelope, with a hint on what to do. */
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const native = body && typeof body === 'object' && body.error_code ? body : null;
    const openai = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
    const message = native?.error || openai?.message || (typeof body === 'string' && body.trim()) || fallback;
    super(message);
    this.status = status;
    this.code = native?.error_code || openai?.code || openai?.type || null;
    this.param = native?.detail?.param || openai?.param || null;
    this.detail = native?.detail || null;
    this.requestId = native?.request_id || null;
    this.title = titleFor(status, this.code);
    this.hint = hintFor(status, this.code);
  }
}

function titleFor(status, code) {
  if (status === 401) return 'API key needed or not accepted.';
  if (status === 403) return 'Not allowed.';
  if (code === 'MODEL_NOT_INSTALLED' || code === 'model_not_installed') return 'Model not installed.';
  if (status === 404) return 'Not found.';
  if (status === 413) return 'Too large.';
  if (status === 422 || status === 400) return 'Please check the request.';
  if (status === 429) return 'Too many requests.';
  if (status === 503) return 'The server cannot do this right now.';
  if (status === 0) return 'The server did not answer.';
  return `Error ${status}.`;
}

function hintFor(status, code) {
  if (status === 401) return 'Enter the key in the “API key” box at the top of the page and press “Save key”.';
  if (status === 403 && code === 'INSUFFICIENT_SCOPE') return 'This key lacks the scope this action needs; use a key with more rights.';
  if (code === 'MODEL_NOT_INSTALLED' || code === 'model_not_installed') return 'The server operator can install it (see the Status page for what is installed).';
  if (status === 429 || code === 'SERVER_BUSY') return 'Wait a moment and try again.';
  if (status === 0) return 'Check that the server is running and reachable.';
  return null;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

/**
 * Calls the API. Options: `query` (object), `json` (body), `form` (FormData), `signal`,
 * `raw` (return the Response unread), `cache` (fetch's cache mode). Answers parsed JSON,
 * or a Blob for audio.
 */
export async function call(method, path, { query, json, form, signal, raw, headers = {}, cache } = {}) {
  const init = { method, headers: { ...headers }, signal, cache };
  const key = currentKey();
  if (key) init.headers.Authorization = `Bearer ${key}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = stringify(json);
  } else if (form) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(withQuery(path, query), init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null, `${method} ${path} failed: ${err.message}`);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    throw new ApiError(response.status, body, `${method} ${path} answered ${response.status}`);
  }
  if (raw) return response;
  const type = response.headers.get('content-type') || '';
  if (type.includes('application/json')) return parse(await response.text());
  if (response.status === 204) return null;
  return response.blob();
}

/**
 * JSON.parse that keeps integers past 2^53 (64-bit seeds) exact, as strings, where the
 * browser passes the source text to revivers; elsewhere they are rounded.
 */
export function parse(text) {
  return JSON.parse(text, (key, value, context) => (
    typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source
      ? context.source
      : value));
}

/** JSON.stringify that writes BigInt values as plain JSON integers. */
export function stringify(value) {
  return JSON.stringify(value, (key, v) => (typeof v === 'bigint' ? `__bigint__${v}` : v))
    .replace(/"__bigint__(-?\d+)"/g, '$1');
}

export const get = (path, query, options = {}) => call('GET', path, { ...options, query });
export const post = (path, json, options = {}) => call('POST', path, { ...options, json });
export const del = (path, query) => call('DELETE', path, { query });

/** `/outputs/…`, `/voices/…` or `/vc_inputs/…` for a stored file. */
export function fileUrl(area, path) {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return `/${area}/${encoded}`;
}

const objectUrls = [];

/**
 * A blob URL for a stored file, fetched with the key (an `<audio src>` cannot send one).
 * Fetched afresh each time (revalidating any HTTP cache): a file may have been replaced
 * under the same name. The newest 40 stay alive; older ones are released.
 */
export async function objectUrl(url) {
  const blob = await call('GET', url, { cache: 'no-cache' });
  const made = URL.createObjectURL(blob);
  objectUrls.push(made);
  if (objectUrls.length > 40) URL.revokeObjectURL(objectUrls.shift());
  return made;
}

/** Saves a stored file under its own name (fetched with the key). */
export async function download(url, filename) {
  const href = await objectUrl(url);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename || url.split('/').pop();
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Follows a Server-Sent Events route with the key (EventSource cannot send headers).
 * Calls `onEvent(name, data)` per event until the stream ends or `signal` aborts.
 */
export async function followEvents(path, onEvent, signal) {
  const response = await call('GET', path, { raw: true, signal, headers: { Accept: 'text/event-stream' } });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) {
        let parsed = data.join('\n');
        try {
          parsed = JSON.parse(parsed);
        } catch {
          // Plain text event.
        }
        onEvent(name, parsed);
      }
    }
  }
}

let configCache = null;

/** `GET /api/v1/config` (limits, formats, defaults, engines), fetched once per page load. */
export async function config(refresh = false) {
  if (!configCache || refresh) configCache = get('/api/v1/config');
  try {
    return await configCache;
  } catch (err) {
    configCache = null;
    throw err;
  }
}
