// The console's shell: login, the header (navigation by role, feed status, language, sign-out), the
// priority-1 banner and the hash router (#/queue, #/alarm/<id>, #/sites, #/cameras/<id>, #/reports…).

import {api, ApiError, describe, getToken, setToken, setUnauthorizedHandler} from './api.js';
import {fill, h} from './dom.js';
import {LANGUAGES, getLanguage, setLanguage, setTimeZone, t} from './i18n.js';
import {can, session} from './session.js';
import {onSoundState, unlock} from './sound.js';
import * as store from './store.js';
import {repaintBanner, startAlerts, stopAlerts} from './alert.js';
import {mountQueue} from './queue.js';
import {mountAlarm} from './alarm.js';
import {mountDevices, mountSites} from './tech.js';
import {mountCameras} from './cameras.js';
import {mountDeadLetters, mountUnregistered} from './inspect.js';
import {mountReports} from './reports.js';

const root = document.getElementById('app');
const banner = h('div', {id: 'p1-banner', class: 'p1-banner', hidden: true});
let cleanup = null;
let unsubscribers = [];

const NAV = [
  ['queue', 'nav.queue', 'alarms.read'],
  ['sites', 'nav.sites', 'tech.read'],
  ['devices', 'nav.devices', 'tech.read'],
  ['cameras', 'nav.cameras', 'tech.read'],
  ['dead-letters', 'nav.deadLetters', 'tech.read'],
  ['unregistered', 'nav.unregistered', 'tech.read'],
  ['reports', 'nav.reports', 'reports.read'],
];

const ROUTES = [
  [/^queue$/, 'alarms.read', (main) => mountQueue(main)],
  [/^alarm\/(.+)$/, 'alarms.read', (main, id) => mountAlarm(main, id)],
  [/^sites(?:\/(.+))?$/, 'tech.read', (main, id) => mountSites(main, id)],
  [/^devices(?:\/(.+))?$/, 'tech.read', (main, id) => mountDevices(main, id)],
  [/^cameras(?:\/(.+))?$/, 'tech.read', (main, id) => mountCameras(main, id)],
  [/^dead-letters$/, 'tech.read', (main) => mountDeadLetters(main)],
  [/^unregistered$/, 'tech.read', (main) => mountUnregistered(main)],
  [/^reports$/, 'reports.read', (main) => mountReports(main)],
];

function defaultRoute() {
  if (can('alarms.read')) return '#/queue';
  if (can('tech.read')) return '#/sites';
  return '#/reports';
}

// -- login -------------------------------------------------------------------------------------------

function showLogin(notice) {
  teardown();
  session.me = null;
  document.title = `${t('app.title')} · ${t('login.heading')}`;
  const input = h('input', {type: 'password', name: 'token', id: 'token', required: true,
    autocomplete: 'current-password', spellcheck: 'false', 'aria-describedby': 'login-hint login-error'});
  const error = h('p', {id: 'login-error', class: 'msg msg-error', role: 'alert'}, notice || '');
  error.hidden = !notice;
  const button = h('button', {type: 'submit', class: 'btn btn-primary btn-wide'}, t('login.submit'));
  const form = h('form', {class: 'login', 'aria-labelledby': 'login-title'},
    h('div', {class: 'login-brand'}, h('img', {src: '/console/icon.svg', alt: '', width: '40', height: '40'}),
      h('div', {}, h('div', {class: 'brand-name'}, t('app.title')), h('div', {class: 'brand-sub'}, t('app.subtitle')))),
    h('h1', {id: 'login-title'}, t('login.heading')),
    h('label', {for: 'token'}, t('login.token')), input,
    h('p', {id: 'login-hint', class: 'hint'}, t('login.hint')),
    error, button,
    languagePicker(false));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    unlock();   // the click or Enter is the user gesture that lets alarms make a sound
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    error.hidden = true;
    setToken(token, false);
    try {
      const me = await api('/api/v1/me', {silent401: true});
      setToken(token, true);
      enter(me);
    } catch (err) {
      setToken(null);
      error.textContent = err instanceof ApiError && err.status === 401 ? t('login.bad')
        : err instanceof ApiError && err.status === 0 ? t('login.network', {detail: describe(err)}) : describe(err);
      error.hidden = false;
      button.disabled = false;
      input.select();
    }
  });
  fill(root, h('main', {class: 'login-page'}, form));
  root.setAttribute('aria-busy', 'false');
  input.focus();
}

function languagePicker(remote) {
  const group = h('div', {class: 'lang', role: 'group', 'aria-label': t('header.language')});
  for (const [code, name] of LANGUAGES) {
    group.append(h('button', {type: 'button', class: 'btn btn-lang', lang: code,
      'aria-pressed': String(getLanguage() === code), onclick: () => changeLanguage(code, remote)}, name));
  }
  return group;
}

async function changeLanguage(code, remote) {
  if (code === getLanguage()) return;
  setLanguage(code);
  if (!remote) {
    const value = document.getElementById('token')?.value;
    showLogin();
    if (value) document.getElementById('token').value = value;
    return;
  }
  try {
    session.me = await api('/api/v1/me', {method: 'PATCH', body: {language: code}});
  } catch { /* shown in this language for now; the next login tries again */ }
  renderShell();
  route();
}

// -- the signed-in console ---------------------------------------------------------------------------

function enter(me) {
  session.me = me;
  setLanguage(me.language || 'zh-CN');
  setTimeZone(me.timezone || 'Asia/Shanghai');
  renderShell();
  if (can('alarms.read')) {
    startAlerts(banner);
    store.start();
  }
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.replace(defaultRoute());
  route();
}

function teardown() {
  cleanup?.();
  cleanup = null;
  for (const fn of unsubscribers) fn();
  unsubscribers = [];
  stopAlerts();
  store.stop();
}

function renderShell() {
  for (const fn of unsubscribers) fn();
  unsubscribers = [];
  const me = session.me;
  const nav = h('nav', {class: 'nav', 'aria-label': t('nav.main')},
    NAV.filter(([, , rule]) => can(rule)).map(([path, key]) =>
      h('a', {href: `#/${path}`, class: 'nav-link', dataset: {route: path}}, t(key))));
  const conn = h('span', {class: 'conn', role: 'status'});
  const sound = h('button', {type: 'button', class: 'sound', onclick: unlock});
  if (can('alarms.read')) {
    unsubscribers.push(store.onStatus((state) => {
      conn.className = `conn conn-${state}`;
      conn.title = t('conn.title', {state: t(`conn.${state}`)});
      fill(conn, h('span', {class: 'dot', 'aria-hidden': 'true'}), t(`conn.${state}`));
    }));
    unsubscribers.push(onSoundState((on) => {
      sound.className = `sound ${on ? 'sound-on' : 'sound-off'}`;
      sound.title = t(on ? 'sound.on' : 'sound.off');
      sound.setAttribute('aria-label', t(on ? 'sound.on' : 'sound.off'));
      fill(sound, h('span', {'aria-hidden': 'true'}, on ? '♪' : '♪̸'));
    }));
  }
  const center = me.center ? me.center.name : me.center_id;
  const header = h('header', {class: 'top'},
    h('a', {class: 'brand', href: defaultRoute()}, h('img', {src: '/console/icon.svg', alt: '', width: '24', height: '24'}),
      h('span', {class: 'brand-name'}, t('app.title'))),
    nav,
    h('div', {class: 'top-right'},
      can('alarms.read') ? conn : null, can('alarms.read') ? sound : null,
      h('span', {class: 'who', title: center ? t('header.center', {name: center}) : t('header.noCenter')},
        h('span', {class: 'who-name'}, me.name), h('span', {class: 'who-role'}, t(`role.${me.role}`)),
        center ? h('span', {class: 'who-center'}, center) : null),
      languagePicker(true),
      h('button', {type: 'button', class: 'btn btn-ghost', onclick: logout}, t('header.logout'))),
    banner);
  const main = h('main', {id: 'main', tabindex: '-1'});
  fill(root, h('div', {class: 'shell'}, header, main, h('div', {id: 'toast', class: 'toast', role: 'status'})));
  root.setAttribute('aria-busy', 'false');
  repaintBanner();
}

function route() {
  if (!session.me) return;
  const main = document.getElementById('main');
  if (!main) return;
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const found = ROUTES.find(([re, rule]) => re.test(path) && can(rule));
  if (!found) {
    const fallback = defaultRoute();
    if (location.hash !== fallback) {
      location.replace(fallback);
      return;
    }
  }
  cleanup?.();
  cleanup = null;
  main.replaceChildren();
  document.title = t('app.title');
  for (const link of document.querySelectorAll('.nav-link')) {
    const active = path === link.dataset.route || path.startsWith(`${link.dataset.route}/`)
      || (link.dataset.route === 'queue' && path.startsWith('alarm/'));
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!found) return;
  const [re, , mount] = found;
  const match = path.match(re);
  cleanup = mount(main, match[1]) || null;
}

function logout() {
  setToken(null);
  teardown();
  history.replaceState(null, '', location.pathname);
  showLogin();
}

setUnauthorizedHandler(() => {
  if (!session.me) return;
  setToken(null);
  showLogin(t('login.expired'));
});

window.addEventListener('hashchange', route);

async function boot() {
  setLanguage('zh-CN');
  if (!getToken()) {
    showLogin();
    return;
  }
  try {
    enter(await api('/api/v1/me', {silent401: true}));
  } catch (err) {
    setToken(null);
    showLogin(err instanceof ApiError && err.status === 401 ? t('login.expired') : describe(err));
  }
}

boot();
