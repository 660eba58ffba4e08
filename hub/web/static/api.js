// The hub's API as the console uses it: every call carries the bearer token; a 401 from anywhere sends
// the user back to the login form. The alarm stream is Server-Sent Events read with fetch(), because
// EventSource cannot send an Authorization header.

import {sleep} from './dom.js';
import {t} from './i18n.js';

const KEY = 'pingan.token';
let token = sessionStorage.getItem(KEY);
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  /** 422 details as {field: message}, for showing next to form fields. */
  fieldErrors() {
    const out = {};
    if (this.status !== 422 || !Array.isArray(this.detail)) return out;
    for (const e of this.detail) {
      const loc = (e.loc || []).filter((p) => p !== 'body' && p !== 'query');
      const field = loc.length ? String(loc[0]) : '';
      const rest = loc.slice(1).join('.');
      const msg = rest ? `${rest}: ${e.msg}` : e.msg;
      out[field] = out[field] ? `${out[field]}; ${msg}` : msg;
    }
    return out;
  }
}

export function getToken() {
  return token;
}

export function setToken(value, remember = true) {
  token = value;
  if (value && remember) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function headers(extra) {
  return {Authorization: `Bearer ${token ?? ''}`, ...extra};
}

async function failure(res) {
  let detail = res.statusText || String(res.status);
  try {
    const body = await res.json();
    if (body && body.detail !== undefined) detail = body.detail;
  } catch { /* not JSON */ }
  const retry = res.headers.get('Retry-After');
  return new ApiError(res.status, detail, retry == null ? null : Number(retry));
}

/** Call the API: JSON in, JSON out (raw: the Response itself); throws ApiError. */
export async function api(path, {method = 'GET', body, signal, raw = false, silent401 = false} = {}) {
  const init = {method, headers: headers(body === undefined ? {} : {'Content-Type': 'application/json'}),
    signal, cache: 'no-store'};
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, err.message || 'network error');
  }
  if (res.status === 401) {
    const err = await failure(res);
    if (!silent401) onUnauthorized();
    throw err;
  }
  if (!res.ok) throw await failure(res);
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

/** A query string from an object, leaving out null/undefined/'' values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Path segment, escaped (ids may contain ':' and '.'). */
export const seg = (s) => encodeURIComponent(String(s));

/** An API URL from a message (absolute, maybe with another host name) as a path on this origin. */
export function localPath(url) {
  try {
    const u = new URL(url, location.href);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** Fetch protected media (evidence, snapshots) with the token into a blob: URL. */
export async function blobUrl(path, signal) {
  const res = await api(localPath(path), {raw: true, signal});
  return URL.createObjectURL(await res.blob());
}

/** Save what an API call answers as a file (CSV export). */
export async function download(path, filename) {
  const res = await api(path, {raw: true});
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A human sentence for an error, in the user's language. */
export function describe(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  const detail = Array.isArray(err.detail)
    ? err.detail.map((e) => `${(e.loc || []).filter((p) => p !== 'body').join('.')}: ${e.msg}`).join('; ')
    : String(err.detail ?? '');
  if (err.status === 0) return t('err.network', {detail});
  if (err.status === 403) return t('err.forbidden');
  if (err.status === 404) return t('err.notFound', {detail});
  if (err.status === 422) return detail;
  if (err.status === 503 && detail) return detail;   // the hub says why (busy, camera unreachable…)
  if (err.status >= 500) return t('err.server', {status: err.status});
  return t('err.generic', {status: err.status, detail});
}

/**
 * Server-Sent Events over fetch(): reconnects with backoff after a drop and resumes after the last
 * event id (Last-Event-ID header). A stream silent for longer than three heartbeats counts as dropped.
 * onStatus gets 'connecting' | 'live' | 'reconnecting'; onOpen(reconnected) after each connection.
 */
export class EventStream {
  constructor(path, {onEvent, onStatus = () => {}, onOpen = () => {}, silenceMs = 45000}) {
    this.path = path;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onOpen = onOpen;
    this.silenceMs = silenceMs;
    this.lastId = null;
    this.retryMs = 1000;
    this.stopped = false;
    this.controller = null;
    this.status = 'connecting';
  }

  start() {
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  setStatus(status) {
    this.status = status;
    this.onStatus(status);
  }

  async run() {
    let backoff = this.retryMs;
    let opened = 0;
    while (!this.stopped) {
      this.controller = new AbortController();
      this.setStatus(opened ? 'reconnecting' : 'connecting');
      try {
        const extra = {Accept: 'text/event-stream'};
        if (this.lastId !== null) extra['Last-Event-ID'] = this.lastId;
        const res = await fetch(this.path, {headers: headers(extra), signal: this.controller.signal,
          cache: 'no-store'});
        if (res.status === 401) {
          onUnauthorized();
          return;
        }
        if (!res.ok || !res.body) throw new ApiError(res.status, res.statusText);
        this.setStatus('live');
        this.onOpen(opened++ > 0);
        const since = Date.now();
        await this.read(res.body.getReader());
        // A stream that held for a while was a good one: start the backoff again from the bottom.
        if (Date.now() - since > 10000) backoff = this.retryMs;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ApiError && err.status === 403) backoff = Math.max(backoff, 30000);
      }
      if (this.stopped) return;
      this.setStatus('reconnecting');
      await sleep(backoff * (0.8 + Math.random() * 0.4), this.controller.signal);
      backoff = Math.min(backoff * 2, 30000);
    }
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = {data: [], type: 'message', id: null};
    let watchdog = null;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => this.controller.abort(), this.silenceMs);
    };
    arm();
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) return;
        arm();
        buffer += decoder.decode(value, {stream: true});
        // Lines end in CRLF, LF or CR (a CR at the very end may be the first half of a CRLF).
        let match;
        const re = /\r\n|\n|\r/g;
        let start = 0;
        while ((match = re.exec(buffer)) !== null) {
          if (match[0] === '\r' && match.index === buffer.length - 1) break;
          event = this.line(buffer.slice(start, match.index), event);
          start = re.lastIndex;
        }
        buffer = buffer.slice(start);
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** One line of the event stream format (HTML Living Standard, 9.2.6). */
  line(text, event) {
    if (text === '') {
      if (event.id !== null) this.lastId = event.id;
      if (event.data.length) {
        const data = event.data.join('\n');
        try {
          this.onEvent({type: event.type, id: this.lastId, data: JSON.parse(data)});
        } catch (err) {
          console.warn('bad event', err);
        }
      }
      return {data: [], type: 'message', id: null};
    }
    if (text.startsWith(':')) return event;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') event.data.push(value);
    else if (field === 'event') event.type = value || 'message';
    else if (field === 'id' && !value.includes('\0')) event.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Math.max(500, Number(value));
    return event;
  }
}
