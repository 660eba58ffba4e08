// The operator's queue: open alarms, most urgent first (priority 1 first), then oldest first. Updates
// arrive from the store at any rate; the DOM is touched at most once per animation frame, rows are
// reused by alarm_id, and at most MAX rows are drawn (with the count of the rest).

import {fill, h, typing} from './dom.js';
import {fmtAge, fmtWhen, t, tr} from './i18n.js';
import {alarms, OPEN_UNACKED, state as storeState, subscribe} from './store.js';
import {escalatedBadge, marks, paintDeadline, prioChip, stateBadge} from './widgets.js';
import {dismissBanner} from './alert.js';

const MAX = 500;
let selectedId = null;   // the row with the roving tabindex, kept across re-renders and re-mounts

export function compare(a, b) {
  return (a.priority ?? 9) - (b.priority ?? 9) || a._raised - b._raised
    || (a.alarm_id < b.alarm_id ? -1 : a.alarm_id > b.alarm_id ? 1 : 0);
}

export function mountQueue(main) {
  const tbody = h('tbody');
  const count = h('span', {class: 'queue-count', 'aria-live': 'off'});
  const more = h('p', {class: 'queue-more'});
  const empty = h('p', {class: 'queue-empty'}, t('queue.loading'));
  const cols = ['priority', 'category', 'site', 'plate', 'age', 'deadline', 'state'];
  const tableEl = h('table', {class: 'queue', 'aria-describedby': 'queue-hint'},
    h('caption', {class: 'sr-only'}, t('queue.caption')),
    h('colgroup', {}, cols.map((c) => h('col', {class: `c-${c}`}))),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', {scope: 'col', class: `c-${c}`}, t(`queue.col.${c}`))))),
    tbody);
  const section = h('section', {id: 'queue', class: 'view view-queue', 'aria-labelledby': 'queue-title'},
    h('div', {class: 'view-head'},
      h('h1', {id: 'queue-title'}, t('queue.heading')), count,
      h('span', {id: 'queue-hint', class: 'hint'}, t('queue.hint'))),
    h('div', {class: 'queue-scroll'}, tableEl, empty),
    more);
  main.append(section);

  const rows = new Map();
  const fresh = new Set();   // arrived from the stream while the queue is on screen: highlighted once
  let frame = 0;
  const schedule = () => { if (!frame) frame = requestAnimationFrame(render); };
  const onChange = (change) => {
    if (change.fresh) fresh.add(change.alarm.alarm_id);
    schedule();
  };

  function render() {
    frame = 0;
    const focusedId = document.activeElement?.closest?.('tr[data-alarm-id]')?.dataset.alarmId ?? null;
    const sorted = Array.from(alarms.values()).sort(compare);
    const shown = sorted.slice(0, MAX);
    const keep = new Set(shown.map((a) => a.alarm_id));
    let selectedIndex = -1;
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.remove();
        rows.delete(id);
      }
    }
    let cursor = tbody.firstElementChild;
    const now = Date.now();
    shown.forEach((alarm, i) => {
      let row = rows.get(alarm.alarm_id);
      if (!row) {
        row = createRow(alarm, now, fresh.delete(alarm.alarm_id));
        rows.set(alarm.alarm_id, row);
      } else if (row._seq !== alarm.seq || row._state !== alarm.state) {
        updateRow(row, alarm, now);
      }
      if (alarm.alarm_id === selectedId) selectedIndex = i;
      if (row !== cursor) tbody.insertBefore(row, cursor);
      else cursor = cursor.nextElementSibling;
    });
    if (selectedIndex < 0 && shown.length) select(shown[0].alarm_id, false);
    else if (selectedIndex >= 0) select(selectedId, false);
    if (focusedId && rows.has(focusedId) && document.activeElement !== rows.get(focusedId)) {
      rows.get(focusedId).focus({preventScroll: true});
    }
    count.textContent = t('queue.count', {n: alarms.size});
    more.textContent = sorted.length > MAX ? t('queue.more', {n: sorted.length - MAX, max: MAX}) : '';
    empty.textContent = storeState.error ? String(storeState.error.message)
      : !storeState.loaded && !alarms.size ? t('queue.loading') : t('queue.empty');
    empty.hidden = alarms.size > 0;
  }

  function select(id, focus) {
    const previous = rows.get(selectedId);
    if (previous && selectedId !== id) previous.tabIndex = -1;
    selectedId = id;
    const row = rows.get(id);
    if (!row) return;
    row.tabIndex = 0;
    if (focus) {
      row.focus();
      row.scrollIntoView({block: 'nearest'});
    }
  }

  function move(delta) {
    const list = Array.from(tbody.children);
    if (!list.length) return;
    const current = list.findIndex((r) => r.dataset.alarmId === selectedId);
    const next = Math.max(0, Math.min(list.length - 1, current < 0 ? 0 : current + delta));
    select(list[next].dataset.alarmId, true);
  }

  const open = (id) => {
    selectedId = id;
    dismissBanner(id);
    location.hash = `#/alarm/${encodeURIComponent(id)}`;
  };

  tbody.addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-alarm-id]');
    if (row) open(row.dataset.alarmId);
  });

  const onKey = (event) => {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === 'ArrowDown' || key === 'j') move(1);
    else if (key === 'ArrowUp' || key === 'k') move(-1);
    else if (key === 'Home') move(-Infinity);
    else if (key === 'End') move(Infinity);
    else if (key === 'PageDown') move(10);
    else if (key === 'PageUp') move(-10);
    else if (key === 'Enter' && event.target.closest?.('tr[data-alarm-id]')) {
      open(event.target.closest('tr[data-alarm-id]').dataset.alarmId);
    } else if (key === 'Enter' && selectedId && !event.target.closest?.('button, a')) open(selectedId);
    else return;
    event.preventDefault();
  };
  document.addEventListener('keydown', onKey);

  // Time since raised and time to the deadline, every second, for the rows on screen only.
  const tick = setInterval(() => {
    const now = Date.now();
    for (const row of rows.values()) paintTimes(row, now);
  }, 1000);

  const unsubscribe = subscribe(onChange);
  render();
  return () => {
    unsubscribe();
    clearInterval(tick);
    cancelAnimationFrame(frame);
    document.removeEventListener('keydown', onKey);
  };
}

function createRow(alarm, now, arrived) {
  const row = h('tr', {tabindex: '-1', dataset: {alarmId: alarm.alarm_id}});
  row._cells = {
    priority: h('td', {class: 'c-priority'}),
    category: h('td', {class: 'c-category'}),
    site: h('td', {class: 'c-site'}),
    plate: h('td', {class: 'c-plate'}),
    age: h('td', {class: 'c-age'}),
    deadline: h('td', {class: 'c-deadline'}),
    state: h('td', {class: 'c-state'}),
  };
  row.append(...Object.values(row._cells));
  updateRow(row, alarm, now);
  // A row that arrives while the queue is on screen is briefly highlighted (not on the first load).
  if (arrived) {
    row.classList.add('fresh');
    setTimeout(() => row.classList.remove('fresh'), 2500);
  }
  return row;
}

function updateRow(row, alarm, now) {
  const c = row._cells;
  const p = Math.min(Math.max(Number(alarm.priority) || 4, 1), 4);
  row._seq = alarm.seq;
  row._state = alarm.state;
  row._alarm = alarm;
  row.className = row.className.replace(/\bp[1-4]\b|\bunacked\b/g, '').trim();
  row.classList.add(`p${p}`);
  row.classList.toggle('unacked', OPEN_UNACKED.has(alarm.state));
  const site = alarm.site || {};
  fill(c.priority, prioChip(p));
  fill(c.category, 
    h('span', {class: 'cat'}, tr('category', alarm.category)), marks(alarm));
  fill(c.site, 
    h('div', {class: 'site-name', title: site.name || ''}, site.name || site.id || t('common.dash')),
    h('div', {class: 'site-address', title: site.address || ''}, site.address || ''));
  fill(c.plate, 
    h('div', {class: 'plate'}, site.door_plate || t('common.dash')),
    h('div', {class: 'pole'}, site.pole || ''));
  const ageText = h('div', {class: 'age'});
  const raisedAt = h('div', {class: 'raised-at'}, fmtWhen(alarm.raised_at));
  fill(c.age, ageText, raisedAt);
  const deadline = h('div', {class: 'deadline'});
  fill(c.deadline, deadline, h('div', {class: 'escalation'}, escalatedBadge(alarm)));
  fill(c.state, stateBadge(alarm.state));
  row._age = ageText;
  row._deadline = deadline;
  paintTimes(row, now);
}

function paintTimes(row, now) {
  const alarm = row._alarm;
  row._age.textContent = fmtAge((now - alarm._raised) / 1000);
  paintDeadline(row._deadline, alarm, now);
  row.classList.toggle('late', alarm._deadline != null && alarm._deadline - now < 30000);
}
