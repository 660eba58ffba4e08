// A camera's or device's state history (GET /api/v1/{cameras|devices}/{id}/history): its uptime over
// 1 h, 24 h and 7 days, the last 24 hours as a bar (online, offline, unknown), and its changes newest
// first with why and for how long, the hub's own outages among them (nothing is known then).

import {api, query, seg} from './api.js';
import {fill, h, svg} from './dom.js';
import {fmtAge, fmtClock, fmtPercent, fmtWhen, t, tr} from './i18n.js';
import {errorMessage, message, table} from './widgets.js';

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
const LOOKBACK_MS = 7 * DAY_MS;   // what the table and the 7-day uptime cover
const PAGE = 10000;               // the API's largest limit; beyond it the API leaves out the newest…
const MAX_PAGES = 10;             // …so the rest is read on from the last change returned
const MAX_ROWS = 50;
const QUARTER_MS = 15 * 60 * 1000;   // every time zone's offset is a whole number of quarter hours
const TICKS = new Set(['00:00', '06:00', '12:00', '18:00']);
const MIN_PCT = 0.3;   // a short outage (or a state just begun) stays visible on the bar: about 2 px at 1366×768
const BAR_H = 24;

const STATE_CLASS = {true: 'online', false: 'offline', null: 'unknown'};

/**
 * The "State history" card of a camera ('camera') or device ('device'). Returns {el, reload}: reload()
 * reads the history again (the previous read, if still running, is dropped) and resolves to what it
 * read, or null after an error or an abort. `signal` ends everything (the page is left).
 */
export function historyCard(kind, id, signal) {
  const headingId = `h-state-history-${kind}`;
  const body = h('div', {class: 'history-body'}, message('info', t('common.loading')));
  const el = h('section', {class: 'card card-state-history', 'aria-labelledby': headingId},
    h('h2', {id: headingId}, t('history.heading')), body);
  let running = null;
  const reload = async () => {
    running?.abort();
    const mine = new AbortController();
    running = mine;
    const stop = () => mine.abort();
    signal?.addEventListener('abort', stop, {once: true});
    try {
      const found = await read(kind, id, mine.signal);
      if (mine.signal.aborted) return null;
      fill(body, render(found));
      return found;
    } catch (err) {
      if (mine.signal.aborted || err.name === 'AbortError') return null;
      fill(body, errorMessage(err));
      return null;
    } finally {
      signal?.removeEventListener('abort', stop);
      if (running === mine) running = null;
    }
  };
  reload();
  return {el, reload};
}

/** The state last known: the newest change's, or the one at the start of the read. */
export function currentState(found) {
  const last = found.changes[found.changes.length - 1];
  return last ? last.online : found.state_at_since;
}

/** Seven days of history: the API answers at most PAGE changes (the oldest), so read on from there. */
async function read(kind, id, signal) {
  const now = Date.now();
  const path = `/api/v1/${kind}s/${seg(id)}/history`;
  const first = await api(path + query({since: new Date(now - LOOKBACK_MS).toISOString(), limit: PAGE}),
    {signal});
  const changes = [...first.changes];
  let truncated = first.truncated;
  for (let page = 1; truncated && changes.length && page < MAX_PAGES; page++) {
    const next = await api(path + query({since: changes[changes.length - 1].at, limit: PAGE}), {signal});
    changes.push(...next.changes);
    truncated = next.truncated;
  }
  return {...first, changes, truncated, now};
}

const ms = (iso) => new Date(iso).getTime();

function render(found) {
  const changes = found.changes.map((c) => ({...c, ms: ms(c.at)}));
  const down = found.hub_down.map((d) => ({from: ms(d.start), to: ms(d.end)}));
  // The client's clock may be a little behind the hub's: nothing is drawn after "now".
  const end = Math.max(found.now, changes.length ? changes[changes.length - 1].ms : 0,
    down.length ? down[down.length - 1].to : 0);
  return [
    uptime(found.uptime),
    timeline(changes, down, found.state_at_since, end - DAY_MS, end),
    changesTable(changes, down, end, found.truncated),
  ];
}

// -- uptime ------------------------------------------------------------------------------------------

function uptime(figures) {
  return h('dl', {class: 'history-uptime', 'aria-label': t('history.uptime')},
    ['1h', '24h', '7d'].map((w) => h('div', {class: 'uptime-item'},
      h('dt', {}, t('history.uptime'), ' ', h('span', {class: 'uptime-window'}, t(`history.window.${w}`))),
      h('dd', {class: 'num', dataset: {window: w}}, fmtPercent(figures?.[w] ?? null)))));
}

// -- the last 24 hours as a bar -----------------------------------------------------------------------

/** [start, end) cut where the state changes: [{from, to, state: true | false | null (unknown)}]. */
export function segments(changes, down, stateAtSince, start, end) {
  const cuts = new Set([start, end]);
  for (const c of changes) if (c.ms > start && c.ms < end) cuts.add(c.ms);
  for (const d of down) {
    for (const x of [d.from, d.to]) if (x > start && x < end) cuts.add(x);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out = [];
  let i = 0;   // changes[0..i) are at or before the current piece
  for (let k = 0; k + 1 < points.length; k++) {
    const [from, to] = [points[k], points[k + 1]];
    while (i < changes.length && changes[i].ms <= from) i++;
    const hubDown = down.some((d) => d.from <= from && to <= d.to);
    const state = hubDown ? null : (i ? changes[i - 1].online : stateAtSince ?? null);
    const prev = out[out.length - 1];
    if (prev && prev.state === state && prev.to === from) prev.to = to;
    else out.push({from, to, state});
  }
  return out;
}

/** 22 小时 10 分 / 22 h 10 min, rounded down (the parts of a day never add up to more than it); under a
 * minute in seconds. */
function span(msecs) {
  const s = Math.floor(msecs / 1000);
  if (s > 0 && s < 60) return t('history.s', {s});
  const m = Math.floor(s / 60);
  return m >= 60 ? t('history.hm', {h: Math.floor(m / 60), m: m % 60}) : t('history.m', {m});
}

function stateName(state) {
  return state === null ? t('history.unknown') : t(`online.${state}`);
}

function timeline(changes, down, stateAtSince, start, end) {
  const pieces = segments(changes, down, stateAtSince, start, end);
  const total = {true: 0, false: 0, null: 0};
  for (const p of pieces) total[p.state] += p.to - p.from;
  const summary = t('history.summary', {online: span(total.true), offline: span(total.false),
    unknown: span(total.null)});
  const pct = (x) => ((x - start) / (end - start)) * 100;
  const rect = (p) => {
    let x = pct(p.from);
    let width = pct(p.to) - x;
    if (p.state !== null && width < MIN_PCT) {
      x = Math.min(x, 100 - MIN_PCT);
      width = MIN_PCT;
    }
    return svg('rect', {class: `tl-span tl-${STATE_CLASS[p.state]}`, x: `${x.toFixed(3)}%`, y: 0,
      width: `${width.toFixed(3)}%`, height: BAR_H},
    svg('title', {}, `${stateName(p.state)} ${fmtClock(p.from)}–${fmtClock(p.to)} (${span(p.to - p.from)})`));
  };
  // Unknown first, offline last: a short outage is drawn over its neighbours.
  const rank = {null: 0, true: 1, false: 2};
  const ordered = [...pieces].sort((a, b) => rank[a.state] - rank[b.state]);
  const ticks = [];
  for (let q = Math.ceil(start / QUARTER_MS) * QUARTER_MS; q <= end; q += QUARTER_MS) {
    const label = fmtClock(q);
    if (TICKS.has(label)) ticks.push([pct(q), label]);
  }
  const bar = svg('svg', {class: 'timeline', width: '100%', height: BAR_H + 22, role: 'img',
    'aria-label': summary, focusable: 'false'},
  svg('rect', {class: 'tl-track', x: 0, y: 0, width: '100%', height: BAR_H}),
  ordered.map(rect),
  ticks.map(([x, label]) => [
    svg('line', {class: 'tl-tick', x1: `${x}%`, x2: `${x}%`, y1: 0, y2: BAR_H + 5}),
    svg('text', {class: 'tl-label', x: `${x}%`, y: BAR_H + 18,
      'text-anchor': x < 3 ? 'start' : x > 97 ? 'end' : 'middle'}, label)]));
  const legend = h('ul', {class: 'history-legend'},
    [[true, t('online.true')], [false, t('online.false')], [null, t('history.unknownLegend')]].map(([state, text]) =>
      h('li', {}, h('span', {class: `swatch tl-${STATE_CLASS[state]}`, 'aria-hidden': 'true'}), text)));
  return h('div', {class: 'history-timeline'},
    h('h3', {}, t('history.timeline')), bar, legend);
}

// -- the changes, newest first ------------------------------------------------------------------------

function changesTable(changes, down, end, truncated) {
  const entries = [
    ...changes.map((c, i) => ({at: c.ms, online: c.online, reason: c.reason,
      until: i + 1 < changes.length ? changes[i + 1].ms : null})),
    ...down.map((d) => ({at: d.from, hubDown: true, until: d.to})),
  ].sort((a, b) => b.at - a.at || (a.hubDown ? -1 : 1));
  if (!entries.length) return h('p', {class: 'hint history-empty'}, t('history.empty'));
  const {el, add} = table([
    {label: t('col.at'), cell: (e) => fmtWhen(e.at), class: 'time'},
    {label: t('col.state'), cell: (e) => (e.hubDown
      ? h('span', {class: 'badge hub-down'}, t('history.hubDown'))
      : h('span', {class: `badge online-${e.online}`}, t(`online.${e.online}`)))},
    {label: t('field.reason'), cell: (e) => (e.hubDown ? t('history.hubDownReason')
      : e.online ? t('common.dash') : tr('reason', e.reason)), class: 'wrap'},
    {label: t('history.duration'), cell: (e) => (e.until == null
      ? t('history.ongoing', {d: fmtAge((end - e.at) / 1000)}) : fmtAge((e.until - e.at) / 1000)), class: 'num'},
  ], {caption: t('history.caption'), rowAttrs: (e) => ({class: e.hubDown ? 'row-hub-down'
    : `row-${e.online ? 'online' : 'offline'}`})});
  el.classList.add('compact', 'history-table');
  add(entries.slice(0, MAX_ROWS));
  return [
    h('div', {class: 'history-scroll'}, el),
    entries.length > MAX_ROWS ? h('p', {class: 'hint history-more'}, t('history.more', {n: entries.length - MAX_ROWS}))
      : null,
    truncated ? h('p', {class: 'hint'}, t('history.truncated', {n: changes.length})) : null,
  ];
}
