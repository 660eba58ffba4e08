// One alarm: where it is, what was signalled, what happened to it, the evidence, live video of the
// site's cameras, and the operator's actions (acknowledge → dispatch → close), by mouse or keyboard.

import {api, ApiError, blobUrl, describe, query, seg} from './api.js';
import {copyText, fill, h, sleep, typing} from './dom.js';
import {fmtAge, fmtDateTime, t, tr} from './i18n.js';
import {can} from './session.js';
import {alarms as queued, merge, subscribe} from './store.js';
import {startLive} from './webrtc.js';
import {errorMessage, marks, message, paintDeadline, prioChip, showFieldErrors, stateBadge, toast}
  from './widgets.js';

// Which action each state allows (the API answers 409 otherwise).
const ALLOWED = {
  ack: new Set(['new', 'delivered', 'escalated']),
  dispatch: new Set(['acknowledged']),
  close: new Set(['acknowledged', 'dispatched']),
};
const ACTIONS = [
  // [action, English accessible name (the same in both languages), text key, shortcut key]
  ['ack', 'Acknowledge', 'action.acknowledge', 'A'],
  ['dispatch', 'Dispatch', 'action.dispatch', 'D'],
  ['close', 'Close', 'action.close', 'C'],
];

export function mountAlarm(main, id) {
  const abort = new AbortController();
  const view = h('section', {class: 'view view-alarm', 'aria-busy': 'true'});
  const parts = {
    head: h('div', {class: 'alarm-head'}),
    actions: h('div', {class: 'alarm-actions'}),
    notice: h('div', {class: 'alarm-notice', 'aria-live': 'polite'}),
    location: h('section', {class: 'card card-location', 'aria-labelledby': 'h-location'}),
    times: h('section', {class: 'card card-times'}),
    evidence: h('section', {class: 'card card-evidence', 'aria-labelledby': 'h-evidence'}),
    live: h('section', {class: 'card card-live', 'aria-labelledby': 'h-live'}),
    signals: h('section', {class: 'card card-signals', 'aria-labelledby': 'h-signals'}),
    history: h('section', {class: 'card card-history', 'aria-labelledby': 'h-history'}),
  };
  view.append(
    h('div', {class: 'alarm-top'}, parts.head, parts.actions, parts.notice),
    h('div', {class: 'alarm-grid'},
      h('div', {class: 'col col-main'}, parts.location, parts.times, parts.history, parts.signals),
      h('div', {class: 'col col-media'}, parts.evidence, parts.live)));
  main.append(view);
  parts.head.append(message('info', t('detail.loading')));

  let alarm = null;
  let form = null;          // the open action form: {kind, el}
  let evidenceKey = '';
  const blobs = [];
  const peers = [];

  const back = () => { location.hash = '#/queue'; };

  async function load() {
    try {
      const fresh = await api(`/api/v1/alarms/${seg(id)}`, {signal: abort.signal});
      if (abort.signal.aborted) return;
      show(fresh);
    } catch (err) {
      if (abort.signal.aborted) return;
      fill(parts.head, backButton(back),
        err instanceof ApiError && err.status === 404 ? message('error', t('detail.notFound')) : errorMessage(err));
    }
  }

  function show(fresh) {
    // Answers can arrive out of order (a reload started by the stream, then an action's answer): never
    // step back to an older state.
    if (alarm && (fresh.seq ?? 0) < (alarm.seq ?? 0)) return;
    const first = alarm === null;
    alarm = fresh;
    alarm._raised = Date.parse(alarm.raised_at || alarm.received_at) || Date.now();
    alarm._deadline = alarm.deadline_at ? Date.parse(alarm.deadline_at) : null;
    if (queued.has(fresh.alarm_id)) merge({...fresh}, false);
    view.setAttribute('aria-busy', 'false');
    renderHead();
    renderActions();
    renderLocation();
    renderTimes();
    renderHistory();
    renderSignals();
    const key = JSON.stringify(alarm.evidence || []);
    if (key !== evidenceKey) {
      evidenceKey = key;
      renderEvidence();
    }
    if (first) {
      renderLive();
      document.title = `${tr('category', alarm.category)} · ${t('app.title')}`;
    }
  }

  function renderHead() {
    const site = alarm.site || {};
    fill(parts.head, 
      backButton(back),
      h('h1', {class: `alarm-title p${alarm.priority}`}, prioChip(alarm.priority),
        h('span', {class: 'cat'}, tr('category', alarm.category)),
        h('span', {class: 'alarm-site'}, site.name || site.id || '')),
      stateBadge(alarm.state),
      alarm.escalated_to ? h('span', {class: 'badge badge-escalated'},
        t('deadline.escalatedTo', {center: alarm.escalated_to})) : null,
      marks(alarm),
      h('span', {class: 'alarm-clock'},
        h('span', {class: 'label'}, t('detail.raised')), h('span', {class: 'age', id: 'alarm-age'}),
        h('span', {class: 'label'}, t('detail.deadline')), h('span', {class: 'deadline', id: 'alarm-deadline'})));
    tick();
  }

  function tick() {
    if (!alarm) return;
    const now = Date.now();
    const age = view.querySelector('#alarm-age');
    const deadline = view.querySelector('#alarm-deadline');
    if (age) age.textContent = fmtAge((now - alarm._raised) / 1000);
    if (deadline) paintDeadline(deadline, alarm, now);
  }

  function allowed(kind) {
    return can('alarms.act') && ALLOWED[kind].has(alarm.state);
  }

  function renderActions() {
    if (form && !allowed(form.kind)) form = null;
    if (!can('alarms.act')) {
      fill(parts.actions, alarm.state === 'closed' ? '' : h('p', {class: 'hint'}, t('action.readOnly')));
      return;
    }
    const buttons = ACTIONS.filter(([kind]) => allowed(kind)).map(([kind, name, key, shortcut]) =>
      h('button', {type: 'button', class: `btn btn-action btn-${kind}`, 'aria-label': name,
        'aria-keyshortcuts': shortcut, 'aria-expanded': kind === 'ack' ? null : String(form?.kind === kind),
        title: `${t('shortcut.hint')}: ${shortcut}`, onclick: () => start(kind)},
      t(key), h('kbd', {'aria-hidden': 'true'}, shortcut)));
    // Re-attaching the open form must not take the caret out of the field being typed in.
    const focused = form && form.el.contains(document.activeElement) ? document.activeElement : null;
    fill(parts.actions, h('div', {class: 'action-buttons'}, buttons), form ? form.el : null);
    focused?.focus();
  }

  function start(kind) {
    if (!allowed(kind)) return;
    if (kind === 'ack') {
      act('ack', {});
      return;
    }
    form = {kind, el: kind === 'dispatch' ? dispatchForm() : closeForm()};
    renderActions();
    form.el.querySelector(kind === 'dispatch' ? 'input[name=unit]' : 'select[name=resolution]').focus();
  }

  function cancelForm() {
    const kind = form?.kind;
    form = null;
    renderActions();
    parts.actions.querySelector(`.btn-${kind}`)?.focus();
  }

  function formShell(kind, fields) {
    const error = h('p', {class: 'field-error form-error', role: 'alert'});
    const el = h('form', {class: `inline-form form-${kind}`, novalidate: true, 'aria-label': t(`action.${kind}`)},
      fields,
      h('div', {class: 'form-buttons'},
        h('button', {type: 'submit', class: 'btn btn-primary', 'data-action': 'confirm'}, t('action.confirm')),
        h('button', {type: 'button', class: 'btn', onclick: cancelForm}, t('action.cancel'))),
      error);
    el.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        cancelForm();
      }
    });
    return el;
  }

  function dispatchForm() {
    const input = h('input', {name: 'unit', required: true, maxlength: '100', autocomplete: 'off',
      placeholder: t('action.unitHint'), id: 'f-unit'});
    const el = formShell('dispatch', h('div', {class: 'field'},
      h('label', {for: 'f-unit'}, t('action.unit')), input, h('span', {class: 'field-error', 'data-for': 'unit'})));
    el.addEventListener('submit', (event) => {
      event.preventDefault();
      const unit = input.value.trim();
      if (!unit) {
        showFieldErrors(el, {unit: t('common.required')});
        input.focus();
        return;
      }
      act('dispatch', {unit}, el);
    });
    return el;
  }

  function closeForm() {
    const select = h('select', {name: 'resolution', required: true, id: 'f-resolution'},
      h('option', {value: ''}, '—'),
      ['real', 'false', 'test'].map((r) => h('option', {value: r}, tr('resolution', r))));
    const note = h('textarea', {name: 'note', rows: '2', maxlength: '1000', id: 'f-note'});
    const el = formShell('close', [
      h('div', {class: 'field'}, h('label', {for: 'f-resolution'}, t('action.resolution')), select,
        h('span', {class: 'field-error', 'data-for': 'resolution'})),
      h('div', {class: 'field field-wide'}, h('label', {for: 'f-note'}, t('action.note')), note,
        h('span', {class: 'field-error', 'data-for': 'note'}))]);
    el.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!select.value) {
        showFieldErrors(el, {resolution: t('common.required')});
        select.focus();
        return;
      }
      act('close', {resolution: select.value, note: note.value.trim()}, el);
    });
    return el;
  }

  async function act(kind, body, formEl) {
    const buttons = parts.actions.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    parts.notice.replaceChildren();
    try {
      const result = await api(`/api/v1/alarms/${seg(id)}/${kind}`, {method: 'POST', body});
      // Only the form that was sent closes: the stream may have shown the new state, and the operator
      // already opened the next form, before this answer came.
      if (formEl && form?.el === formEl) form = null;
      show(result);
      const done = {ack: 'acknowledged', dispatch: 'dispatched', close: 'closed'}[kind];
      toast(t(`action.done.${done}`), 'ok');
      if (!form) (parts.actions.querySelector('.btn-action') || parts.head.querySelector('.btn-back'))?.focus();
    } catch (err) {
      buttons.forEach((b) => { b.disabled = false; });
      if (err instanceof ApiError && err.status === 409) {
        if (formEl && form?.el === formEl) form = null;
        fill(parts.notice, message('error', t('action.conflict', {detail: describe(err)})));
        await load();
      } else if (err instanceof ApiError && err.status === 422 && formEl) {
        showFieldErrors(formEl, err.fieldErrors());
      } else if (formEl) {
        formEl.querySelector('.form-error').textContent = describe(err);
      } else {
        fill(parts.notice, errorMessage(err));
      }
    }
  }

  function renderLocation() {
    const site = alarm.site || {};
    const coords = site.lat != null && site.lon != null ? `${site.lat}, ${site.lon}` : null;
    const copy = coords ? h('button', {type: 'button', class: 'btn btn-small', onclick: async (event) => {
      const ok = await copyText(coords);
      event.target.textContent = t(ok ? 'detail.copied' : 'detail.copyFailed');
      setTimeout(() => { event.target.textContent = t('detail.copy'); }, 2000);
    }}, t('detail.copy')) : null;
    const source = alarm.source || {};
    fill(parts.location, 
      h('h2', {id: 'h-location'}, t('detail.location')),
      h('dl', {class: 'facts'},
        fact('detail.site', site.name || site.id),
        fact('detail.address', site.address, 'address'),
        fact('detail.doorPlate', site.door_plate),
        fact('detail.pole', site.pole),
        h('dt', {}, t('detail.coords')), h('dd', {class: 'coords'}, coords ?? t('common.dash'), ' ', copy),
        fact('detail.center', alarm.escalated_to ? `${alarm.center_id} → ${alarm.escalated_to}` : alarm.center_id),
        fact('detail.agency', alarm.agency ? tr('agency', alarm.agency) : null),
        fact('detail.source', source.kind ? `${tr('source', source.kind)} ${source.id || ''}` : null),
        fact('detail.zone', source.zone)));
  }

  function renderTimes() {
    fill(parts.times, h('dl', {class: 'facts facts-times'},
      fact('detail.raised', fmtDateTime(alarm.raised_at)),
      fact('detail.received', fmtDateTime(alarm.received_at)),
      fact('detail.acknowledgedAt', alarm.acknowledged_at ? fmtDateTime(alarm.acknowledged_at) : null),
      fact('detail.dispatchedAt', alarm.dispatched_at ? fmtDateTime(alarm.dispatched_at) : null),
      fact('detail.unit', alarm.unit),
      fact('detail.closedAt', alarm.closed_at ? fmtDateTime(alarm.closed_at) : null),
      fact('detail.resolution', alarm.resolution ? tr('resolution', alarm.resolution) : null)));
  }

  function renderHistory() {
    const rows = (alarm.history || []).map((e) => h('tr', {},
      h('td', {class: 'time'}, fmtDateTime(e.at)),
      h('td', {}, tr('change', e.change)),
      h('td', {}, stateBadge(e.state)),
      h('td', {}, e.actor || ''),
      h('td', {}, historyDetail(e))));
    fill(parts.history, h('h2', {id: 'h-history'}, t('detail.history')),
      h('table', {class: 'grid compact'},
        h('thead', {}, h('tr', {}, ['col.at', 'col.change', 'col.state', 'col.actor', 'col.detail']
          .map((k) => h('th', {scope: 'col'}, t(k))))),
        h('tbody', {}, rows)));
  }

  function renderSignals() {
    const log = alarm.signal_log || [];
    const rows = log.map((s) => h('tr', {},
      h('td', {class: 'time'}, fmtDateTime(s.received_at)),
      h('td', {}, [s.source, s.device_id].filter(Boolean).join(' · ')),
      h('td', {}, tr('category', s.category)),
      h('td', {}, tr('qualifier', s.qualifier)),
      h('td', {}, s.zone ?? ''),
      h('td', {}, s.code ?? ''),
      h('td', {class: 'wrap'}, s.text ?? ''),
      h('td', {}, tr('result', s.result))));
    fill(parts.signals, 
      h('h2', {id: 'h-signals'}, t('detail.signals'), ' ',
        h('span', {class: 'count'}, t('detail.signalCount', {n: alarm.signals ?? log.length}))),
      log.length ? h('div', {class: 'scroll-x'}, h('table', {class: 'grid compact'},
        h('thead', {}, h('tr', {}, ['col.at', 'col.source', 'col.category', 'col.qualifier', 'col.zone',
          'col.code', 'col.text', 'col.result'].map((k) => h('th', {scope: 'col'}, t(k))))),
        h('tbody', {}, rows))) : h('p', {class: 'hint'}, t('detail.noSignals')));
  }

  function renderEvidence() {
    const items = alarm.evidence || [];
    const counts = {snapshot: 0, clip: 0};
    fill(parts.evidence, h('h2', {id: 'h-evidence'}, t('detail.evidence')),
      items.length ? h('div', {class: 'evidence-list'}, items.map((item) => {
        counts[item.kind] = (counts[item.kind] || 0) + 1;
        return evidenceItem(item, counts[item.kind]);
      })) : h('p', {class: 'hint'}, t('detail.noEvidence')));
  }

  function evidenceItem(item, n) {
    const status = h('div', {class: 'evidence-status'}, t('common.loading'));
    const label = t(item.kind === 'clip' ? 'detail.clip' : 'detail.snapshot', {n});
    const media = item.kind === 'clip'
      ? h('video', {controls: true, preload: 'metadata', playsinline: true, hidden: true, 'aria-label': label})
      : h('img', {alt: label, hidden: true});
    const figure = h('figure', {class: `evidence evidence-${item.kind}`}, media, status, h('figcaption', {}, label));
    (async () => {
      for (let attempt = 0; attempt < 60 && !abort.signal.aborted; attempt++) {
        try {
          const url = await blobUrl(item.url, abort.signal);
          if (abort.signal.aborted) {
            URL.revokeObjectURL(url);
            return;
          }
          blobs.push(url);
          media.src = url;
          media.hidden = false;
          status.remove();
          return;
        } catch (err) {
          if (abort.signal.aborted || err.name === 'AbortError') return;
          if (err instanceof ApiError && err.status === 404 && err.retryAfter != null) {
            status.textContent = t('detail.recording');
            status.classList.add('recording');
            await sleep(Math.min(Math.max(err.retryAfter, 1), 30) * 1000, abort.signal);
            continue;
          }
          status.textContent = err instanceof ApiError && err.status === 410 ? t('detail.evidenceGone')
            : t('detail.evidenceError', {detail: describe(err)});
          return;
        }
      }
    })();
    return figure;
  }

  async function renderLive() {
    const siteId = alarm.site?.id;
    fill(parts.live, h('h2', {id: 'h-live'}, t('detail.live')));
    // The alarm names its site's cameras (operators may not list cameras); older hubs: list them.
    let cameras = Array.isArray(alarm.cameras) ? [...alarm.cameras] : null;
    if (cameras === null) {
      try {
        const body = await api('/api/v1/cameras' + query({limit: 1000}), {signal: abort.signal});
        cameras = body.items.filter((c) => c.site_id === siteId);
      } catch (err) {
        if (abort.signal.aborted) return;
        parts.live.append(err instanceof ApiError && err.status === 403
          ? h('p', {class: 'hint'}, t('detail.camerasDenied')) : errorMessage(err));
        return;
      }
    }
    if (abort.signal.aborted) return;
    if (!cameras.length) {
      parts.live.append(h('p', {class: 'hint'}, t('detail.noCameras')));
      return;
    }
    // The camera that raised the alarm first.
    const sourceId = alarm.source?.kind === 'camera' ? alarm.source.id : null;
    cameras.sort((a, b) => (b.id === sourceId) - (a.id === sourceId) || a.id.localeCompare(b.id));
    const grid = h('div', {class: 'live-grid'});
    parts.live.append(grid);
    // At most four start by themselves: live views cost the hub (16 at once over all viewers).
    cameras.forEach((camera, i) => grid.append(liveTile(camera, i < 4)));
  }

  /** One camera's live view; starts at once when `auto`, else on a click; offers again after a drop. */
  function liveTile(camera, auto) {
    const video = h('video', {autoplay: true, muted: true, playsinline: true, 'aria-label': camera.name || camera.id});
    video.muted = true;
    const status = h('div', {class: 'live-status'}, t('detail.liveConnecting'));
    const play = h('button', {type: 'button', class: 'btn live-play', hidden: true}, '▶ ', t('detail.live'));
    const tile = h('figure', {class: 'live', dataset: {cameraId: camera.id}}, video, status, play,
      h('figcaption', {}, camera.name || camera.id, ' ', h('span', {class: `cam-status cam-${camera.status}`},
        tr('camera', camera.status))));
    let pc = null;
    let retries = 0;
    const show = (state, text) => {
      tile.dataset.state = state;
      status.hidden = state === 'live' || state === 'idle';
      status.textContent = text ?? '';
    };
    const connect = async () => {
      if (abort.signal.aborted) return;
      play.hidden = true;
      show('connecting', t('detail.liveConnecting'));
      try {
        pc = await startLive(camera.id, video, onState);
        if (abort.signal.aborted) pc.close();
        else peers.push(pc);
      } catch (err) {
        if (abort.signal.aborted || err.name === 'AbortError') return;
        show('failed', t('detail.liveFailed', {detail: describe(err)}));
        // Busy or the camera's stream not open yet: the hub says when to try again.
        if (err instanceof ApiError && err.status === 503 && retries++ < 5) {
          await sleep(Math.min(Math.max(err.retryAfter ?? 5, 1), 30) * 1000, abort.signal);
          connect();
        } else {
          play.hidden = false;
        }
      }
    };
    const onState = (state) => {
      if (abort.signal.aborted) return;
      if (state === 'live') {
        retries = 0;
        show('live');
      } else if (state === 'connecting') {
        show('connecting', t('detail.liveConnecting'));
      } else if (state === 'ended' && pc) {
        // The hub hangs a viewer up after a while, or the camera went away: offer again.
        const ended = pc;
        pc = null;
        ended.close();
        show('failed', t('detail.liveEnded'));
        if (retries++ < 5) sleep(2000, abort.signal).then(connect);
        else play.hidden = false;
      }
    };
    play.addEventListener('click', () => {
      retries = 0;
      connect();
    });
    if (auto) connect();
    else {
      show('idle');
      play.hidden = false;
    }
    return tile;
  }

  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === 'Escape') {
      if (typing(event) && form) return;   // the form's own Escape handler closes it
      event.preventDefault();
      if (form) cancelForm();
      else back();
      return;
    }
    if (!alarm || typing(event)) return;
    const kind = {a: 'ack', d: 'dispatch', c: 'close'}[event.key.toLowerCase()];
    if (kind && allowed(kind) && !event.repeat) {
      event.preventDefault();
      start(kind);
    }
  };
  document.addEventListener('keydown', onKey);

  const unsubscribe = subscribe(({alarm: changed}) => {
    if (changed && alarm && changed.alarm_id === id && (changed.seq ?? 0) > (alarm.seq ?? 0)) {
      fill(parts.notice, message('info', t('detail.updated')));
      setTimeout(() => { if (parts.notice.textContent === t('detail.updated')) parts.notice.replaceChildren(); }, 5000);
      load();
    }
  });
  const timer = setInterval(tick, 1000);
  load();

  return () => {
    abort.abort();
    unsubscribe();
    clearInterval(timer);
    document.removeEventListener('keydown', onKey);
    for (const pc of peers) pc.close();
    for (const url of blobs) URL.revokeObjectURL(url);
    for (const video of view.querySelectorAll('video')) {
      video.srcObject = null;
      video.removeAttribute('src');
    }
  };
}

function backButton(back) {
  return h('button', {type: 'button', class: 'btn btn-back', 'aria-keyshortcuts': 'Escape', onclick: back},
    '← ', t('detail.back'), h('kbd', {'aria-hidden': 'true'}, 'Esc'));
}

function fact(key, value, cls) {
  return [h('dt', {}, t(key)), h('dd', {class: cls}, value == null || value === '' ? t('common.dash') : String(value))];
}

function historyDetail(entry) {
  const d = entry.detail;
  if (!d || typeof d !== 'object') return '';
  const parts = [];
  if (d.unit) parts.push(`${t('detail.unit')}: ${d.unit}`);
  if (d.resolution) parts.push(`${t('detail.resolution')}: ${tr('resolution', d.resolution)}`);
  if (d.from || d.to) parts.push(`${d.from ?? ''} → ${d.to ?? ''}`);
  if (d.note) parts.push(String(d.note));
  for (const [k, v] of Object.entries(d)) {
    if (!['unit', 'resolution', 'from', 'to', 'note'].includes(k) && v != null && typeof v !== 'object') {
      parts.push(`${k}: ${v}`);
    }
  }
  return parts.join(' · ');
}

export {ALLOWED};
