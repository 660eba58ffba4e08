// Small pieces shared by the views: priority chips, state badges, messages, tables, "more" buttons.

import {describe} from './api.js';
import {h} from './dom.js';
import {fmtCountdown, t, tr} from './i18n.js';

export function prioChip(priority) {
  const p = Number(priority) || 4;
  return h('span', {class: `prio prio-${Math.min(Math.max(p, 1), 4)}`, title: t('priority.label', {n: p})},
    t(`priority.${p}`));
}

export function stateBadge(state) {
  return h('span', {class: `state state-${state}`}, tr('state', state));
}

/** Test, verified and restored marks of an alarm. */
export function marks(alarm) {
  return [
    alarm.test ? h('span', {class: 'badge badge-test'}, t('queue.test')) : null,
    alarm.verified ? h('span', {class: 'badge badge-verified'}, t('queue.verified')) : null,
    alarm.restored ? h('span', {class: 'badge badge-restored', title: t('queue.restoredHint')}, t('queue.restored'))
      : null,
  ];
}

export function escalatedBadge(alarm) {
  if (!alarm.escalated_to) return null;
  return h('span', {class: 'badge badge-escalated', title: t('deadline.escalatedTo', {center: alarm.escalated_to})},
    t('deadline.escalated'));
}

/** The countdown to an alarm's deadline into `el` (text and urgency classes); now in ms. */
export function paintDeadline(el, alarm, now) {
  if (alarm._deadline == null) {
    if (el.textContent !== t('deadline.none')) el.textContent = t('deadline.none');
    el.classList.remove('late', 'soon');
    return;
  }
  const left = (alarm._deadline - now) / 1000;
  el.textContent = fmtCountdown(left);
  el.classList.toggle('late', left < 0);
  el.classList.toggle('soon', left >= 0 && left < 30);
}

/** A message line (error, success, info) that screen readers hear. */
export function message(kind, text) {
  return h('p', {class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status'}, text);
}

export function errorMessage(err) {
  return message('error', describe(err));
}

let toastTimer = null;

/** A short notice at the bottom of the screen. */
export function toast(text, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = text;
  el.className = `toast toast-${kind} show`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 4000);
}

/** A table: columns [{label, cell(item) → Node|string, class}]; add(items) appends rows. */
export function table(columns, {caption, rowAttrs, after} = {}) {
  const tbody = h('tbody');
  const el = h('table', {class: 'grid'},
    caption ? h('caption', {class: 'sr-only'}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col', class: c.class}, c.label)))),
    tbody);
  const add = (items) => {
    for (const item of items) {
      const row = h('tr', rowAttrs ? rowAttrs(item) : {},
        columns.map((c) => h('td', {class: c.class}, c.cell(item))));
      tbody.append(row);
      after?.(item, row);
    }
  };
  return {el, tbody, add};
}

/**
 * A paginated list: load(cursor) → {items, next}; the "more" button appears while there is a next page.
 */
export function pager(load, add, where) {
  let next = null;
  const more = h('button', {type: 'button', class: 'btn more', hidden: true}, t('common.more'));
  const status = h('div', {class: 'pager-status'});
  const run = async (cursor) => {
    more.disabled = true;
    status.replaceChildren();
    try {
      const page = await load(cursor);
      add(page.items);
      if (cursor === null && !page.items.length) status.append(h('p', {class: 'hint'}, t('common.none')));
      next = page.next;
      more.hidden = !next;
    } catch (err) {
      status.append(errorMessage(err));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => run(next));
  where.append(status, more);
  return run(null);
}

export const dash = (v) => (v == null || v === '' ? t('common.dash') : String(v));

/**
 * Show 422 details next to their fields: {field: message} ('' or an unknown field: the form's own
 * error line). Fields are matched by name; the message element is `.field-error[data-for=name]`.
 */
export function showFieldErrors(form, errors) {
  for (const el of form.querySelectorAll('.field-error[data-for]')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const general = [];
  for (const [field, msg] of Object.entries(errors)) {
    const slot = field && form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = msg;
      form.querySelector(`[name="${CSS.escape(field)}"]`)?.setAttribute('aria-invalid', 'true');
    } else {
      general.push(field ? `${field}: ${msg}` : msg);
    }
  }
  const line = form.querySelector('.form-error');
  if (line) line.textContent = general.join('; ');
  form.querySelector('[aria-invalid=true]')?.focus();
}
