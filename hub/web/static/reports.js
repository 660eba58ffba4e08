// The daily figures: how many alarms a day brought and how they were handled, for a center (and the
// centers below it) or all; a bar chart per category in inline SVG, and the same figures as CSV.

import {api, download, query} from './api.js';
import {fill, h, svg} from './dom.js';
import {CATEGORY_PRIORITY, fmtSeconds, getTimeZone, t, today, tr} from './i18n.js';
import {session} from './session.js';
import {errorMessage, message, table} from './widgets.js';
import {loadAll, viewHead} from './tech.js';

const PRIORITY_COLOURS = {1: '#e5484d', 2: '#f0883e', 3: '#d4b13f', 4: '#6f8fb8'};
let lastChoice = null;   // date and center kept while the user moves between pages

export function mountReports(main) {
  const abort = new AbortController();
  const me = session.me;
  const choice = lastChoice ?? {date: today(), center: me.center_id ?? ''};
  const date = h('input', {type: 'date', id: 'r-date', name: 'date', value: choice.date, max: today(), required: true});
  const center = h('select', {id: 'r-center', name: 'center_id'},
    h('option', {value: ''}, t('reports.allCenters')));
  if (me.center_id) center.append(h('option', {value: me.center_id}, me.center?.name || me.center_id));
  center.value = choice.center;
  const csv = h('a', {class: 'btn', href: '#', download: ''}, '⤓ ', t('reports.csv'));
  const out = h('div', {class: 'report', 'aria-live': 'polite'});
  const form = h('form', {class: 'report-controls'},
    h('div', {class: 'field'}, h('label', {for: 'r-date'}, t('reports.date')), date),
    h('div', {class: 'field'}, h('label', {for: 'r-center'}, t('reports.center')), center),
    h('button', {type: 'submit', class: 'btn btn-primary'}, t('reports.load')),
    csv,
    h('span', {class: 'hint'}, t('reports.timezone', {zone: getTimeZone()})));
  main.append(h('section', {class: 'view view-reports'}, viewHead(t('reports.heading')), form, out));

  const params = () => ({date: date.value, center_id: center.value || null});
  const load = async () => {
    lastChoice = {date: date.value, center: center.value};
    fill(out, message('info', t('common.loading')));
    try {
      const report = await api('/api/v1/reports/daily' + query(params()), {signal: abort.signal});
      if (!abort.signal.aborted) fill(out, ...render(report));
    } catch (err) {
      if (!abort.signal.aborted && err.name !== 'AbortError') fill(out, errorMessage(err));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  date.addEventListener('change', load);
  center.addEventListener('change', load);
  csv.addEventListener('click', async (event) => {
    event.preventDefault();
    const p = params();
    try {
      await download('/api/v1/reports/daily' + query({...p, format: 'csv'}),
        `daily-${p.center_id || 'all'}-${p.date}.csv`);
    } catch (err) {
      out.prepend(errorMessage(err));
    }
  });
  loadAll('centers').then((centers) => {
    for (const c of centers) {
      if (c.id !== me.center_id) center.append(h('option', {value: c.id}, `${c.name} (${c.id})`));
    }
    center.value = choice.center;
  });
  load();
  return () => abort.abort();
}

function render(report) {
  const totals = report.totals;
  const closed = totals.closed || {real: 0, false: 0, test: 0};
  const closedAll = closed.real + closed.false + closed.test;
  const figures = h('div', {class: 'figures'},
    figure('reports.received', totals.received, 'big'),
    figure('reports.acknowledged', totals.acknowledged),
    figure('reports.dispatched', totals.dispatched),
    figure('reports.escalated', totals.escalated),
    figure('reports.closed', closedAll, null, t('reports.closedSplit', closed)),
    figure('reports.ackMedian', fmtSeconds(totals.ack_seconds?.median), null,
      t('reports.ackCount', {n: totals.ack_seconds?.count ?? 0})),
    figure('reports.ackP95', fmtSeconds(totals.ack_seconds?.p95)));
  const byCategory = report.by_category || [];
  const byCenter = report.by_center || [];
  const columns = (first) => [first,
    {label: t('reports.received'), cell: (r) => String(r.received), class: 'num'},
    {label: t('reports.acknowledged'), cell: (r) => String(r.acknowledged), class: 'num'},
    {label: t('reports.dispatched'), cell: (r) => String(r.dispatched), class: 'num'},
    {label: t('reports.escalated'), cell: (r) => String(r.escalated), class: 'num'},
    {label: t('reports.real'), cell: (r) => String(r.closed?.real ?? 0), class: 'num'},
    {label: t('reports.false'), cell: (r) => String(r.closed?.false ?? 0), class: 'num'},
    {label: t('reports.test'), cell: (r) => String(r.closed?.test ?? 0), class: 'num'},
    {label: t('reports.ackMedianShort'), cell: (r) => fmtSeconds(r.ack_seconds?.median), class: 'num'},
    {label: t('reports.ackP95Short'), cell: (r) => fmtSeconds(r.ack_seconds?.p95), class: 'num'}];
  const categories = table(columns({label: t('col.category'), class: 'name', cell: (r) => tr('category', r.category)}),
    {caption: t('reports.byCategory')});
  categories.add(byCategory);
  const centers = table(columns({label: t('reports.center'), class: 'name',
    cell: (r) => h('span', {title: r.center_id}, r.name || r.center_id)}), {caption: t('reports.byCenter')});
  centers.add(byCenter);
  if (!totals.received && !byCategory.length) return [figures, h('p', {class: 'hint'}, t('reports.empty'))];
  return [figures,
    h('div', {class: 'report-grid'},
      h('section', {class: 'card'}, h('h2', {}, t('reports.chartTitle')), chart(byCategory)),
      h('section', {class: 'card'}, h('h2', {}, t('reports.byCenter')), h('div', {class: 'table-scroll'}, centers.el))),
    h('section', {class: 'card'}, h('h2', {}, t('reports.byCategory')), h('div', {class: 'table-scroll'}, categories.el))];
}

function figure(key, value, cls, sub) {
  return h('div', {class: `figure ${cls || ''}`}, h('div', {class: 'figure-label'}, t(key)),
    h('div', {class: 'figure-value'}, String(value ?? t('common.dash'))),
    sub ? h('div', {class: 'figure-sub'}, sub) : null);
}

/** Horizontal bars, one per category (received), coloured by the category's priority. */
export function chart(rows) {
  const data = rows.filter((r) => r.received > 0).sort((a, b) => b.received - a.received);
  // Room for the longest name (CJK characters are about twice as wide as Latin ones at 13 px).
  const textWidth = (text) => Array.from(text).reduce((w, c) => w + (c.codePointAt(0) > 0x2e80 ? 13 : 7.4), 0);
  const label = Math.min(220, Math.max(70, ...data.map((r) => textWidth(tr('category', r.category)))) + 14);
  const width = 400 + label;
  const bar = 20;
  const gap = 7;
  const height = Math.max(1, data.length) * (bar + gap) + gap;
  const max = Math.max(1, ...data.map((r) => r.received));
  const plot = width - label - 60;
  const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': t('reports.chartTitle'), preserveAspectRatio: 'xMinYMin meet'});
  data.forEach((r, i) => {
    const y = gap + i * (bar + gap);
    const w = Math.max(2, (r.received / max) * plot);
    const colour = PRIORITY_COLOURS[CATEGORY_PRIORITY[r.category] ?? 4];
    const name = tr('category', r.category);
    root.append(
      svg('text', {x: label - 8, y: y + bar / 2, class: 'chart-label', 'text-anchor': 'end',
        'dominant-baseline': 'central'}, name),
      svg('rect', {x: label, y, width: w, height: bar, rx: 3, fill: colour},
        svg('title', {}, `${name}: ${r.received}`)),
      svg('text', {x: label + w + 6, y: y + bar / 2, class: 'chart-value', 'dominant-baseline': 'central'},
        String(r.received)));
  });
  return root;
}
