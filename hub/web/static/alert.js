// Making a new priority-1 alarm impossible to miss, on every page: a flashing banner over the header
// that stays until the alarm is acknowledged or the operator opens it (or puts it off), a tone that
// repeats while it waits, and a spoken announcement. Priority 2 gets one soft tone; 3 and 4 are silent.

import {fill, h} from './dom.js';
import {fmtAge, t, tr} from './i18n.js';
import {alert as beep} from './sound.js';
import {OPEN_UNACKED, subscribe} from './store.js';

const REPEAT_MS = 15000;
const pending = new Map();   // alarm_id → alarm, oldest first
let banner = null;
let repeat = null;
let ticking = null;
let unsubscribe = null;
let politeQueue = [];
let politeTimer = null;

export function startAlerts(bannerEl) {
  stopAlerts();
  banner = bannerEl;
  unsubscribe = subscribe(onChange);
}

export function stopAlerts() {
  unsubscribe?.();
  unsubscribe = null;
  pending.clear();
  paint();
}

function onChange({alarm, removed, fresh}) {
  if (!alarm) return;
  const id = alarm.alarm_id;
  if (pending.has(id) && (removed || !OPEN_UNACKED.has(alarm.state))) {
    pending.delete(id);
    paint();
  }
  if (!fresh || removed || !OPEN_UNACKED.has(alarm.state) || alarm.test) return;
  const p = Number(alarm.priority);
  if (p === 1) {
    pending.set(id, alarm);
    paint();
    beep(1);
    announce(alarm, true);
  } else {
    if (p === 2) beep(2);
    announce(alarm, false);
  }
}

function describe(alarm) {
  const site = alarm.site || {};
  return t('announce.new', {category: tr('category', alarm.category),
    priority: t('priority.label', {n: alarm.priority}), site: site.name || '', address: site.address || ''});
}

/** Priority 1 at once (assertive); the rest at most one sentence every 3 s, so a burst is not a flood. */
function announce(alarm, urgent) {
  if (urgent) {
    const el = document.getElementById('announce-urgent');
    if (el) el.textContent = describe(alarm);
    return;
  }
  politeQueue.push(alarm);
  if (politeTimer) return;
  politeTimer = setTimeout(() => {
    const el = document.getElementById('announce');
    if (el) {
      el.textContent = politeQueue.length === 1 ? describe(politeQueue[0])
        : `${describe(politeQueue[politeQueue.length - 1])} (+${politeQueue.length - 1})`;
    }
    politeQueue = [];
    politeTimer = null;
  }, 3000);
}

/** The operator opened this alarm (or put all off: no id): it no longer needs the banner. */
export function dismissBanner(id) {
  if (id === undefined) pending.clear();
  else pending.delete(id);
  paint();
}

/** Draw the banner again (after a language change). */
export function repaintBanner() {
  paint();
}

function paint() {
  if (!banner) return;
  if (!pending.size) {
    banner.hidden = true;
    banner.replaceChildren();
    document.body.classList.remove('p1-pending');
    clearInterval(repeat);
    clearInterval(ticking);
    repeat = null;
    ticking = null;
    return;
  }
  const list = Array.from(pending.values());
  const alarm = list[list.length - 1];
  const site = alarm.site || {};
  const openIt = () => {
    dismissBanner(alarm.alarm_id);
    location.hash = `#/alarm/${encodeURIComponent(alarm.alarm_id)}`;
  };
  fill(banner, 
    h('span', {class: 'banner-icon', 'aria-hidden': 'true'}, '!'),
    h('strong', {class: 'banner-title'}, t('banner.title')),
    h('span', {class: 'banner-cat'}, tr('category', alarm.category)),
    h('span', {class: 'banner-site'}, [site.name, site.address, site.door_plate].filter(Boolean).join(' · ')),
    h('span', {class: 'banner-age'}, fmtAge((Date.now() - (alarm._raised || Date.now())) / 1000)),
    list.length > 1 ? h('span', {class: 'banner-more'}, t('banner.more', {n: list.length - 1})) : null,
    h('button', {type: 'button', class: 'btn btn-banner', onclick: openIt}, t('banner.open')),
    h('button', {type: 'button', class: 'btn btn-ghost', 'aria-label': 'Dismiss',
      onclick: () => dismissBanner()}, t('banner.dismiss')));
  banner.hidden = false;
  banner.onclick = (event) => { if (!event.target.closest('button')) openIt(); };
  document.body.classList.add('p1-pending');
  if (!repeat) repeat = setInterval(() => beep(1), REPEAT_MS);
  if (!ticking) {
    ticking = setInterval(() => {
      const age = banner?.querySelector('.banner-age');
      const shown = Array.from(pending.values()).pop();
      if (age && shown) age.textContent = fmtAge((Date.now() - (shown._raised || Date.now())) / 1000);
    }, 1000);
  }
}
