// Technicians' registers: sites and devices (cameras in cameras.js), each a paginated list and an
// add/edit form. The forms send what changed, and show the API's 422 details next to the fields.

import {api, ApiError, describe, query, seg} from './api.js';
import {fill, h} from './dom.js';
import {fmtPercent, fmtWhen, t} from './i18n.js';
import {can} from './session.js';
import {dash, errorMessage, message, pager, showFieldErrors, table, toast} from './widgets.js';
import {historyCard} from './history.js';

// -- shared by the register pages --------------------------------------------------------------------

/** Every item of a list (following `next`), for pickers; [] when the role may not read it. */
export async function loadAll(path, max = 5000) {
  const items = [];
  let cursor = null;
  try {
    do {
      const page = await api(`/api/v1/${path}` + query({limit: 1000, cursor}));
      items.push(...page.items);
      cursor = page.next;
    } while (cursor && items.length < max);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
  return items;
}

/** A <datalist> of ids with their names, for an input that takes an id. */
export function datalist(id, items) {
  return h('datalist', {id}, items.map((item) => h('option', {value: item.id}, item.name || item.id)));
}

/**
 * One labelled field: spec {name, type, required, options: [[value, label]], list, step, min, max,
 * placeholder, hint, pattern, readOnly}. Checkboxes carry their label after the box.
 */
export function field(spec, value, {disabled = false} = {}) {
  const id = `f-${spec.name}`;
  const label = spec.label ?? t(`field.${spec.name}`);
  const common = {id, name: spec.name, disabled: disabled || spec.readOnly, required: spec.required,
    'aria-describedby': `${id}-err${spec.hint ? ` ${id}-hint` : ''}`};
  let input;
  if (spec.type === 'checkbox') {
    input = h('input', {...common, type: 'checkbox', checked: Boolean(value)});
    return h('div', {class: 'field field-check'}, h('label', {for: id}, input, ' ', label),
      h('span', {class: 'field-error', id: `${id}-err`, 'data-for': spec.name}));
  }
  if (spec.type === 'select') {
    input = h('select', common, spec.options.map(([v, text]) =>
      h('option', {value: v, selected: String(value ?? '') === String(v)}, text)));
  } else if (spec.type === 'textarea') {
    input = h('textarea', {...common, rows: '2', value: value ?? ''});
  } else {
    input = h('input', {...common, type: spec.type || 'text', value: value ?? '', step: spec.step, min: spec.min,
      max: spec.max, placeholder: spec.placeholder, list: spec.list, pattern: spec.pattern,
      autocomplete: spec.type === 'password' ? 'new-password' : 'off', spellcheck: 'false'});
  }
  return h('div', {class: `field field-${spec.type || 'text'}${spec.wide ? ' field-wide' : ''}`},
    h('label', {for: id}, label, spec.required ? h('span', {class: 'req', 'aria-hidden': 'true'}, ' *') : null),
    input,
    spec.hint ? h('span', {class: 'field-hint', id: `${id}-hint`}, spec.hint) : null,
    h('span', {class: 'field-error', id: `${id}-err`, 'data-for': spec.name}));
}

/** The value of a field as the API takes it (numbers as numbers, '' as null for optional fields). */
export function readField(form, spec) {
  const el = form.elements.namedItem(spec.name);
  if (!el) return undefined;
  if (spec.type === 'checkbox') return el.checked;
  const raw = el.value.trim();
  if (spec.type === 'number') return raw === '' ? null : Number(raw);
  if (spec.nullable && raw === '') return null;
  return raw;
}

/** The body to send: on create everything set, on edit only what differs from `original`. */
export function formBody(form, specs, original) {
  const body = {};
  for (const spec of specs) {
    if (spec.readOnly || (original && spec.createOnly)) continue;
    const value = readField(form, spec);
    if (value === undefined) continue;
    if (spec.writeOnly && (value === '' || value === null)) continue;   // an empty key: keep the stored one
    if (!original) {
      if (value !== null && value !== '') body[spec.name] = value;
      else if (spec.type === 'checkbox') body[spec.name] = value;
    } else {
      const text = !spec.type || spec.type === 'text' || spec.type === 'textarea';
      const before = original[spec.name] ?? (text && !spec.nullable ? '' : null);
      if (JSON.stringify(value ?? null) !== JSON.stringify(before)) body[spec.name] = value;
    }
  }
  return body;
}

/** Save a form: POST on create, PATCH with the changes on edit; 422s land next to their fields. */
export async function save(form, path, id, body) {
  const status = form.querySelector('.form-status');
  status.replaceChildren();
  showFieldErrors(form, {});
  const submit = form.querySelector('button[type=submit]');
  if (submit) submit.disabled = true;
  try {
    const result = id ? await api(`/api/v1/${path}/${seg(id)}`, {method: 'PATCH', body})
      : await api(`/api/v1/${path}`, {method: 'POST', body});
    toast(t('common.saved'), 'ok');
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) {
      showFieldErrors(form, err.fieldErrors());
      status.append(message('error', t('err.invalid')));
    } else {
      status.append(errorMessage(err));
    }
    return null;
  } finally {
    if (submit) submit.disabled = false;
  }
}

export function viewHead(title, ...extra) {
  return h('div', {class: 'view-head'}, h('h1', {}, title), ...extra);
}

export function addLink(path, key) {
  return can('tech.write') ? h('a', {class: 'btn btn-primary', href: `#/${path}/new`}, '+ ', t(key)) : null;
}

export function backLink(path) {
  return h('a', {class: 'btn btn-back', href: `#/${path}`}, '← ', t('common.backToList'));
}

export function idLink(path, id) {
  return h('a', {href: `#/${path}/${encodeURIComponent(id)}`, class: 'id-link'}, id);
}

export function onlineBadge(online) {
  const key = online == null ? 'null' : String(online);
  return h('span', {class: `badge online-${key}`}, t(`online.${key}`));
}

/** A form page around `specs`: loads the item (edit), saves, deletes; `extra(item, signal)` adds cards
 * after the form of an existing item. */
export function formPage(main, {path, id, specs, heading, pickers = [], extra = null}) {
  const abort = new AbortController();
  const isNew = !id || id === 'new';
  const writable = can('tech.write');
  const view = h('section', {class: 'view view-form'});
  main.append(view);
  view.append(viewHead(heading), backLink(path), message('info', t('common.loading')));
  (async () => {
    let original = null;
    try {
      const [item, ...lists] = await Promise.all([
        isNew ? null : api(`/api/v1/${path}/${seg(id)}`, {signal: abort.signal}), ...pickers.map((p) => p())]);
      original = item;
      if (abort.signal.aborted) return;
      const status = h('div', {class: 'form-status', 'aria-live': 'polite'});
      const form = h('form', {class: 'form-grid', novalidate: true},
        specs.filter((s) => !(isNew && s.editOnly)).map((s) => field(s, original ? original[s.name] : s.default,
          {disabled: !writable || (!isNew && s.createOnly)})),
        lists,
        h('p', {class: 'form-error field-error', role: 'alert'}),
        status,
        writable ? h('div', {class: 'form-buttons'},
          h('button', {type: 'submit', class: 'btn btn-primary'}, t('common.save')),
          !isNew ? h('button', {type: 'button', class: 'btn btn-danger', onclick: () => remove(status)},
            t('common.delete')) : null) : null);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const body = formBody(form, specs.filter((s) => !(isNew && s.editOnly)), original);
        if (!isNew && !Object.keys(body).length) {
          toast(t('common.saved'), 'ok');
          return;
        }
        const result = await save(form, path, isNew ? null : id, body);
        if (result) location.hash = `#/${path}`;
      });
      fill(view, viewHead(heading), backLink(path), form,
        !isNew && extra ? extra(original, abort.signal) : null);
    } catch (err) {
      if (!abort.signal.aborted) fill(view, viewHead(heading), backLink(path), errorMessage(err));
    }
  })();

  async function remove(status) {
    if (!confirm(t('common.deleteConfirm', {id}))) return;
    try {
      await api(`/api/v1/${path}/${seg(id)}`, {method: 'DELETE'});
      toast(t('common.deleted'), 'ok');
      location.hash = `#/${path}`;
    } catch (err) {
      fill(status, errorMessage(err));
    }
  }

  return () => abort.abort();
}

/** A list page: a table of `columns`, a "more" button while the API has a next page. */
export function listPage(main, {path, heading, addKey, columns, hint}) {
  const {el, add} = table(columns, {caption: heading});
  const view = h('section', {class: 'view view-list'},
    viewHead(heading, addLink(path, addKey)),
    hint ? h('p', {class: 'hint'}, hint) : null,
    h('div', {class: 'table-scroll'}, el));
  main.append(view);
  const wrap = h('div', {class: 'pager'});
  view.append(wrap);
  pager((cursor) => api(`/api/v1/${path}` + query({limit: 100, cursor})), add, wrap);
}

// -- sites -------------------------------------------------------------------------------------------

const SITE_FIELDS = [
  {name: 'id', required: true, createOnly: true, pattern: '[A-Za-z0-9][A-Za-z0-9_.:\\-]{0,63}'},
  {name: 'name', required: true},
  {name: 'kind', placeholder: 'shop', default: 'shop'},
  {name: 'center_id', list: 'centers-list', nullable: true},
  {name: 'address', wide: true},
  {name: 'lat', type: 'number', step: 'any', min: '-90', max: '90'},
  {name: 'lon', type: 'number', step: 'any', min: '-180', max: '180'},
  {name: 'door_plate'},
  {name: 'pole'},
];

export function mountSites(main, id) {
  if (id) {
    return formPage(main, {path: 'sites', id, specs: SITE_FIELDS,
      heading: id === 'new' ? t('sites.new') : t('sites.edit', {id}),
      pickers: [async () => datalist('centers-list', await loadAll('centers'))]});
  }
  listPage(main, {path: 'sites', heading: t('sites.heading'), addKey: 'sites.new', columns: [
    {label: t('field.id'), cell: (s) => idLink('sites', s.id)},
    {label: t('field.name'), cell: (s) => s.name},
    {label: t('field.kind'), cell: (s) => s.kind},
    {label: t('field.address'), cell: (s) => s.address, class: 'wrap'},
    {label: `${t('field.door_plate')} / ${t('field.pole')}`, cell: (s) => [s.door_plate, s.pole].filter(Boolean).join(' / ')},
    {label: t('field.center_id'), cell: (s) => dash(s.center_id)},
    {label: t('detail.coords'), cell: (s) => (s.lat != null ? `${s.lat}, ${s.lon}` : t('common.dash')), class: 'num'},
  ]});
  return null;
}

// -- devices -----------------------------------------------------------------------------------------

const DEVICE_FIELDS = [
  {name: 'id', required: true, createOnly: true},
  {name: 'site_id', required: true, list: 'sites-list'},
  {name: 'protocol', type: 'select', options: [['mqtt', 'MQTT'], ['zigbee2mqtt', 'zigbee2mqtt'], ['sia', 'SIA DC-09']],
    default: 'mqtt'},
  {name: 'account', nullable: true, placeholder: '1234'},
  {name: 'key', type: 'password', writeOnly: true},
  {name: 'topic', nullable: true, placeholder: 'zigbee2mqtt/front_door'},
  {name: 'supervision_s', type: 'number', min: '10', step: '1'},
  {name: 'test_mode', type: 'checkbox'},
];

export function mountDevices(main, id) {
  if (id) {
    const specs = DEVICE_FIELDS.map((s) => (s.name === 'key' && id !== 'new' ? {...s, hint: t('common.unchanged')} : s));
    return formPage(main, {path: 'devices', id, specs,
      heading: id === 'new' ? t('devices.new') : t('devices.edit', {id}),
      pickers: [async () => datalist('sites-list', await loadAll('sites'))],
      extra: (device, signal) => historyCard('device', device.id, signal).el});
  }
  listPage(main, {path: 'devices', heading: t('devices.heading'), addKey: 'devices.new', columns: [
    {label: t('field.id'), cell: (d) => idLink('devices', d.id)},
    {label: t('field.site_id'), cell: (d) => d.site_id},
    {label: t('field.protocol'), cell: (d) => d.protocol},
    {label: t('field.online'), cell: (d) => onlineBadge(d.online)},
    {label: t('field.last_seen_at'), cell: (d) => fmtWhen(d.last_seen_at), class: 'time'},
    {label: t('field.uptime_24h'), cell: (d) => fmtPercent(d.uptime_24h), class: 'num'},
    {label: t('field.uptime_7d'), cell: (d) => fmtPercent(d.uptime_7d), class: 'num'},
    {label: t('field.test_mode'), cell: (d) => testToggle('devices', d)},
  ]});
  return null;
}

/** A per-row switch that PATCHes {test_mode}; reverts and says why when the API refuses. */
export function testToggle(path, item) {
  const box = h('input', {type: 'checkbox', class: 'switch', checked: Boolean(item.test_mode),
    disabled: !can('tech.write'), 'aria-label': t('devices.testToggle', {id: item.id})});
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      const result = await api(`/api/v1/${path}/${seg(item.id)}`, {method: 'PATCH', body: {test_mode: box.checked}});
      box.checked = Boolean(result.test_mode);
      toast(`${item.id}: ${t('field.test_mode')} ${t(box.checked ? 'common.yes' : 'common.no')}`, 'ok');
    } catch (err) {
      box.checked = !box.checked;
      toast(describe(err), 'error');
    } finally {
      box.disabled = false;
    }
  });
  return box;
}

