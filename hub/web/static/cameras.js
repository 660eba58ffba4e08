// Cameras: the list with their health, registering one (test the stream first, then save), and a
// camera's page: settings, arming (on, off, or by a weekly schedule) and the motion-mask editor.

import {api, ApiError, blobUrl, describe, seg} from './api.js';
import {append, fill, h} from './dom.js';
import {fmtNumber, fmtPercent, fmtWhen, t, tr} from './i18n.js';
import {MaskEditor} from './masks.js';
import {can} from './session.js';
import {errorMessage, message, showFieldErrors, toast} from './widgets.js';
import {backLink, datalist, field, formBody, idLink, listPage, loadAll, save, viewHead} from './tech.js';
import {currentState, historyCard} from './history.js';

const HEALTH_REFRESH_MS = 3000;
// After a change of status the history is read again at the next ticks until it shows the change (it is
// stored a moment after the live status moves), at most this many times.
const HISTORY_TRIES = 5;

export function mountCameras(main, id) {
  if (id === 'new') return newCamera(main);
  if (id) return editCamera(main, id);
  listPage(main, {path: 'cameras', heading: t('cameras.heading'), addKey: 'cameras.new', columns: [
    {label: t('field.id'), cell: (c) => idLink('cameras', c.id)},
    {label: t('field.name'), cell: (c) => c.name},
    {label: t('field.site_id'), cell: (c) => c.site_id},
    {label: t('field.status'), cell: (c) => cameraStatus(c)},
    {label: t('field.reason'), cell: (c) => tr('reason', c.reason), class: 'wrap muted'},
    {label: t('field.fps'), cell: (c) => fmtNumber(c.fps), class: 'num'},
    {label: t('field.last_frame_at'), cell: (c) => fmtWhen(c.last_frame_at), class: 'time'},
    {label: t('field.uptime_24h'), cell: (c) => fmtPercent(c.uptime_24h), class: 'num'},
    {label: t('field.uptime_7d'), cell: (c) => fmtPercent(c.uptime_7d), class: 'num'},
    {label: t('field.armed'), cell: (c) => tr('armed', String(c.armed))},
  ]});
  return null;
}

function cameraStatus(camera) {
  return h('span', {class: `cam-status cam-${camera.status}`}, tr('camera', camera.status));
}

// -- testing a stream --------------------------------------------------------------------------------

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The "Test stream" button and what it found: codec, size, frame rate and a preview, or the reason. */
function streamTester() {
  const result = h('div', {class: 'stream-test', 'aria-live': 'polite'});
  const button = h('button', {type: 'button', class: 'btn'}, t('cameras.test'));
  button.addEventListener('click', async () => {
    const form = button.form;
    const url = form.elements.namedItem('url').value.trim();
    showFieldErrors(form, {});
    if (!url) {
      showFieldErrors(form, {url: t('common.required')});
      return;
    }
    button.disabled = true;
    fill(result, message('info', t('cameras.testing')));
    try {
      const r = await api('/api/v1/cameras/test', {method: 'POST', body: {url}});
      const preview = typeof r.snapshot === 'string' && r.snapshot
        ? (r.snapshot.startsWith('data:image/jpeg;base64,') ? r.snapshot
          : BASE64.test(r.snapshot) ? `data:image/jpeg;base64,${r.snapshot}` : null) : null;
      fill(result, 
        r.ok ? message('ok', t('cameras.testOk', {codec: r.codec ?? '?', width: r.width ?? '?', height: r.height ?? '?',
          fps: r.fps == null ? '?' : fmtNumber(r.fps)}))
          : message('error', t('cameras.testFailed', {reason: r.reason ? tr('reason', r.reason) : t('common.dash')})),
        !r.ok && r.detail ? h('p', {class: 'hint'}, String(r.detail)) : null,
        preview ? h('figure', {class: 'preview'}, h('img', {src: preview, alt: t('cameras.preview')}),
          h('figcaption', {}, t('cameras.preview'))) : null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        showFieldErrors(form, err.fieldErrors());
        result.replaceChildren();
      } else {
        fill(result, errorMessage(err));
      }
    } finally {
      button.disabled = false;
    }
  });
  return h('div', {class: 'stream-tester field-wide'}, button, result);
}

// -- registering one ---------------------------------------------------------------------------------

const NEW_FIELDS = [
  {name: 'id', required: true},
  {name: 'site_id', required: true, list: 'sites-list'},
  {name: 'name', required: true},
  {name: 'url', required: true, wide: true, placeholder: 'rtsp://user:password@192.0.2.10:554/stream1'},
];

function newCamera(main) {
  const view = h('section', {class: 'view view-form'}, viewHead(t('cameras.new')), backLink('cameras'));
  main.append(view);
  if (!can('tech.write')) {
    view.append(message('error', t('err.forbidden')));
    return null;
  }
  const form = h('form', {class: 'form-grid', novalidate: true},
    NEW_FIELDS.map((s) => field(s, '')),
    h('p', {class: 'field-hint field-wide'}, t('cameras.urlHint')));
  form.append(streamTester(),
    h('p', {class: 'form-error field-error', role: 'alert'}),
    h('div', {class: 'form-status', 'aria-live': 'polite'}),
    h('div', {class: 'form-buttons'}, h('button', {type: 'submit', class: 'btn btn-primary'}, t('common.save'))));
  loadAll('sites').then((sites) => form.append(datalist('sites-list', sites)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const result = await save(form, 'cameras', null, formBody(form, NEW_FIELDS, null));
    if (result) location.hash = `#/cameras/${encodeURIComponent(result.id)}`;
  });
  view.append(form);
  return null;
}

// -- a camera's page ---------------------------------------------------------------------------------

const EDIT_FIELDS = [
  {name: 'name', required: true},
  {name: 'site_id', required: true, list: 'sites-list'},
  {name: 'url', wide: true, writeOnly: true},
  {name: 'offline_after_s', type: 'number', min: '10', step: '1'},
  {name: 'enabled', type: 'checkbox'},
  {name: 'test_mode', type: 'checkbox'},
];

function editCamera(main, id) {
  const abort = new AbortController();
  const view = h('section', {class: 'view view-camera'});
  main.append(view);
  view.append(viewHead(t('cameras.edit', {id})), backLink('cameras'), message('info', t('common.loading')));
  let editor = null;
  let snapshotUrl = null;
  let timer = null;
  (async () => {
    try {
      const [camera, sites] = await Promise.all([api(`/api/v1/cameras/${seg(id)}`, {signal: abort.signal}),
        loadAll('sites')]);
      if (abort.signal.aborted) return;
      const masksCard = h('section', {class: 'card card-masks', 'aria-labelledby': 'h-masks'},
        h('h2', {id: 'h-masks'}, t('cameras.masks')), h('p', {class: 'hint'}, t('cameras.masksHint')),
        message('info', t('common.loading')));
      let statusEl = cameraStatus(camera);
      let healthEl = healthCard(camera);
      const history = historyCard('camera', id, abort.signal);
      let lastStatus = camera.status;
      let historyTries = 0;
      fill(view,
        viewHead(t('cameras.edit', {id}), statusEl), backLink('cameras'),
        h('div', {class: 'camera-grid'},
          h('div', {class: 'col'}, healthEl, history.el, settingsForm(camera, sites)),
          h('div', {class: 'col'}, masksCard)));
      // The health is live: a technician who just saved a camera sees it come online (or why not).
      timer = setInterval(async () => {
        try {
          const fresh = await api(`/api/v1/cameras/${seg(id)}`, {signal: abort.signal});
          const nextStatus = cameraStatus(fresh);
          const nextHealth = healthCard(fresh);
          statusEl.replaceWith(nextStatus);
          healthEl.replaceWith(nextHealth);
          statusEl = nextStatus;
          healthEl = nextHealth;
          // The history only when the status moved, not at every tick.
          if (fresh.status !== lastStatus) {
            lastStatus = fresh.status;
            historyTries = HISTORY_TRIES;
          }
          if (historyTries > 0) {
            historyTries -= 1;
            const status = fresh.status;
            history.reload().then((found) => {
              if (found && status === lastStatus && agrees(found, status)) historyTries = 0;
            });
          }
        } catch (err) {
          // keep what is shown; the next tick tries again (a 401 sends the page to the login form)
        }
      }, HEALTH_REFRESH_MS);
      const loaded = await loadPicture(id, camera, abort.signal);
      if (abort.signal.aborted) return;
      snapshotUrl = loaded.url;
      editor = new MaskEditor({width: loaded.width, height: loaded.height, image: loaded.image,
        masks: camera.motion?.masks || [], readOnly: !can('tech.write')});
      const saveButton = h('button', {type: 'button', class: 'btn btn-primary', 'aria-label': 'Save masks'},
        t('cameras.saveMasks'));
      const status = h('div', {class: 'form-status', 'aria-live': 'polite'});
      saveButton.addEventListener('click', async () => {
        saveButton.disabled = true;
        status.replaceChildren();
        try {
          // The stored motion settings with the new masks: the PATCH replaces `motion` as a whole.
          const current = await api(`/api/v1/cameras/${seg(id)}`);
          const masks = editor.masks();
          const result = await api(`/api/v1/cameras/${seg(id)}`, {method: 'PATCH',
            body: {motion: {...(current.motion || {}), masks}}});
          camera.motion = result.motion;
          fill(status, message('ok', t('cameras.masksSaved', {n: (result.motion?.masks || masks).length})));
        } catch (err) {
          fill(status, errorMessage(err));
        } finally {
          saveButton.disabled = false;
        }
      });
      fill(masksCard, h('h2', {id: 'h-masks'}, t('cameras.masks')),
        h('p', {class: 'hint'}, t('cameras.masksHint')),
        loaded.note ? h('p', {class: 'hint'}, loaded.note) : null,
        editor.el,
        can('tech.write') ? h('div', {class: 'form-buttons'}, saveButton) : null, status);
    } catch (err) {
      if (!abort.signal.aborted) fill(view, viewHead(t('cameras.edit', {id})), backLink('cameras'), errorMessage(err));
    }
  })();
  return () => {
    abort.abort();
    if (timer) clearInterval(timer);
    editor?.destroy();
    if (snapshotUrl) URL.revokeObjectURL(snapshotUrl);
  };
}

/** Does the history end in the state the live status shows (online or offline; others: nothing to wait for)? */
function agrees(found, status) {
  if (status === 'online') return currentState(found) === true;
  if (status === 'offline') return currentState(found) === false;
  return true;
}

/** The camera's latest picture at its own size; without one, a blank of the camera's (or HD) size. */
async function loadPicture(id, camera, signal) {
  try {
    const url = await blobUrl(`/api/v1/cameras/${seg(id)}/snapshot.jpg`, signal);
    const image = new Image();
    image.src = url;
    await image.decode();
    return {url, image, width: image.naturalWidth, height: image.naturalHeight, note: null};
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    let width = camera.width || 1280;
    let height = camera.height || 720;
    for (const poly of camera.motion?.masks || []) {
      for (const [x, y] of poly) {
        width = Math.max(width, x + 1);
        height = Math.max(height, y + 1);
      }
    }
    return {url: null, image: null, width, height, note: t('cameras.noPicture', {detail: describe(err), width, height})};
  }
}

function healthCard(camera) {
  const facts = [
    ['field.status', tr('camera', camera.status)], ['field.reason', camera.reason ? tr('reason', camera.reason) : null],
    ['field.fps', camera.fps == null ? null : fmtNumber(camera.fps)],
    ['field.resolution', camera.width && camera.height ? `${camera.width}×${camera.height}` : null],
    ['field.last_frame_at', camera.last_frame_at ? fmtWhen(camera.last_frame_at) : null],
    ['field.uptime_24h', fmtPercent(camera.uptime_24h)], ['field.uptime_7d', fmtPercent(camera.uptime_7d)],
    ['field.url', camera.url],
  ];
  return h('section', {class: 'card'}, h('dl', {class: 'facts'}, facts.map(([key, value]) =>
    [h('dt', {}, t(key)), h('dd', {class: key === 'field.url' ? 'mono wrap' : ''}, value == null || value === ''
      ? t('common.dash') : String(value))])));
}

function settingsForm(camera, sites) {
  const writable = can('tech.write');
  const specs = EDIT_FIELDS.map((s) => (s.name === 'url'
    ? {...s, hint: `${t('common.unchanged')} · ${t('cameras.urlHint')}`, placeholder: camera.url} : s));
  const arming = armingEditor(camera, writable);
  const form = h('form', {class: 'form-grid card', novalidate: true, 'aria-labelledby': 'h-settings'},
    h('h2', {id: 'h-settings', class: 'field-wide'}, t('cameras.settings')),
    specs.map((s) => field(s, s.name === 'url' ? '' : camera[s.name], {disabled: !writable})),
    datalist('sites-list', sites),
    writable ? streamTester() : null,
    arming.el,
    h('p', {class: 'form-error field-error', role: 'alert'}),
    h('div', {class: 'form-status', 'aria-live': 'polite'}),
    writable ? h('div', {class: 'form-buttons'}, h('button', {type: 'submit', class: 'btn btn-primary'},
      t('common.save'))) : null);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = formBody(form, specs, camera);
    Object.assign(body, arming.changes());
    if (!Object.keys(body).length) {
      toast(t('common.saved'), 'ok');
      return;
    }
    const result = await save(form, 'cameras', camera.id, body);
    if (result) {
      Object.assign(camera, result);
      form.elements.namedItem('url').value = '';
    }
  });
  return form;
}

// -- arming and its weekly schedule ------------------------------------------------------------------

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

function armingEditor(camera, writable) {
  const mode = String(camera.armed);
  const radios = ['true', 'false', 'schedule'].map((value) => h('label', {class: 'radio'},
    h('input', {type: 'radio', name: 'armed', value, checked: mode === value, disabled: !writable}), ' ',
    tr('armed', value)));
  const rows = h('div', {class: 'schedule-rows'});
  const addButton = h('button', {type: 'button', class: 'btn btn-small', disabled: !writable,
    onclick: () => { rows.append(windowRow({days: [0, 1, 2, 3, 4], start: '22:00', end: '06:00'}, writable)); sync(); }},
  '+ ', t('cameras.addWindow'));
  const schedule = h('fieldset', {class: 'schedule'},
    h('legend', {}, t('cameras.schedule')),
    h('p', {class: 'field-hint'}, t('cameras.scheduleHint')),
    rows, addButton, h('span', {class: 'field-error', 'data-for': 'schedule'}));
  for (const w of camera.schedule || []) rows.append(windowRow(w, writable));
  const el = h('div', {class: 'arming field-wide'},
    h('fieldset', {class: 'radios'}, h('legend', {}, t('cameras.arming')), radios,
      h('span', {class: 'field-error', 'data-for': 'armed'})),
    schedule);
  const current = () => el.querySelector('input[name=armed]:checked')?.value ?? mode;
  const sync = () => { schedule.classList.toggle('inactive', current() !== 'schedule'); };
  el.addEventListener('change', sync);
  sync();

  const read = () => Array.from(rows.children).map((row) => ({
    days: Array.from(row.querySelectorAll('input[type=checkbox]:checked'), (b) => Number(b.value)),
    start: row.querySelector('input[data-part=start]').value.trim(),
    end: row.querySelector('input[data-part=end]').value.trim(),
  }));
  return {
    el,
    changes() {
      const out = {};
      const armed = {true: true, false: false, schedule: 'schedule'}[current()];
      if (armed !== camera.armed) out.armed = armed;
      const windows = read();
      if (JSON.stringify(windows) !== JSON.stringify((camera.schedule || []).map((w) => ({days: w.days, start: w.start,
        end: w.end})))) out.schedule = windows;
      // Checked here so the message is next to the row; the API checks the same.
      for (const [i, w] of windows.entries()) {
        const row = rows.children[i];
        const bad = !w.days.length || !HHMM.test(w.start) || !HHMM.test(w.end);
        row.classList.toggle('invalid', bad);
      }
      return out;
    },
  };
}

function windowRow(w, writable) {
  const days = new Set(w.days || []);
  const row = h('div', {class: 'window-row', role: 'group'});
  append(row, [
    h('span', {class: 'days', role: 'group', 'aria-label': t('cameras.days')},
      [0, 1, 2, 3, 4, 5, 6].map((d) => h('label', {class: 'day', title: t(`dayLong.${d}`)},
        h('input', {type: 'checkbox', value: String(d), checked: days.has(d), disabled: !writable,
          'aria-label': t(`dayLong.${d}`)}), h('span', {}, t(`day.${d}`))))),
    h('label', {class: 'time'}, t('cameras.start'), ' ',
      h('input', {type: 'text', 'data-part': 'start', value: w.start || '', inputmode: 'numeric', maxlength: '5',
        pattern: '([01][0-9]|2[0-3]):[0-5][0-9]', placeholder: 'HH:MM', size: '5', disabled: !writable})),
    h('label', {class: 'time'}, t('cameras.end'), ' ',
      h('input', {type: 'text', 'data-part': 'end', value: w.end || '', inputmode: 'numeric', maxlength: '5',
        pattern: '([01][0-9]|2[0-3]):[0-5][0-9]', placeholder: 'HH:MM', size: '5', disabled: !writable})),
    writable ? h('button', {type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': t('cameras.removeWindow'),
      onclick: () => row.remove()}, '✕') : null]);
  return row;
}
