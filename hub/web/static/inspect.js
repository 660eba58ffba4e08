// What technicians inspect: rejected messages (dead letters) and messages from unregistered devices.
// The raw bytes are decoded from base64 and shown as text and as a hex dump, always as text nodes:
// a payload such as "<script>…" is displayed, never interpreted.

import {api, query} from './api.js';
import {asText, fromBase64, h, hexDump} from './dom.js';
import {fmtDateTime, t} from './i18n.js';
import {pager, table} from './widgets.js';
import {viewHead} from './tech.js';

function rawToggle(item, row, span) {
  const button = h('button', {type: 'button', class: 'btn btn-small', 'aria-expanded': 'false'}, t('raw.show'));
  let detail = null;
  button.addEventListener('click', () => {
    if (detail) {
      detail.remove();
      detail = null;
      button.textContent = t('raw.show');
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    const bytes = fromBase64(item.raw);
    detail = h('tr', {class: 'raw-row'}, h('td', {colspan: String(span)},
      h('div', {class: 'raw'},
        h('div', {}, h('h3', {}, t('raw.text'), ` (${bytes.length} B)`), h('pre', {class: 'raw-text'}, asText(bytes))),
        h('div', {}, h('h3', {}, t('raw.hex')), h('pre', {class: 'raw-hex'}, hexDump(bytes))))));
    row.after(detail);
    button.textContent = t('raw.hide');
    button.setAttribute('aria-expanded', 'true');
  });
  return button;
}

function inspectPage(main, {path, heading, hint, columns}) {
  const span = columns.length + 1;
  const {el, add} = table([...columns, {label: t('field.raw'), cell: () => ''}], {caption: heading,
    after: (item, row) => row.lastElementChild.append(rawToggle(item, row, span))});
  const wrap = h('div', {class: 'pager'});
  main.append(h('section', {class: 'view view-list'}, viewHead(heading), h('p', {class: 'hint'}, hint),
    h('div', {class: 'table-scroll'}, el), wrap));
  pager((cursor) => api(`/api/v1/${path}` + query({limit: 100, cursor})), add, wrap);
  return null;
}

export function mountDeadLetters(main) {
  return inspectPage(main, {path: 'dead-letters', heading: t('dead.heading'), hint: t('dead.hint'), columns: [
    {label: t('field.time'), cell: (d) => fmtDateTime(d.at), class: 'time'},
    {label: t('field.source'), cell: (d) => d.source},
    {label: t('field.topicCol'), cell: (d) => d.topic, class: 'mono wrap'},
    {label: t('field.reasonDetail'), cell: (d) => [h('strong', {}, d.reason), d.detail ? h('div', {class: 'muted'}, d.detail) : null],
      class: 'wrap'},
  ]});
}

export function mountUnregistered(main) {
  return inspectPage(main, {path: 'unregistered', heading: t('unreg.heading'), hint: t('unreg.hint'), columns: [
    {label: t('field.time'), cell: (d) => fmtDateTime(d.at), class: 'time'},
    {label: t('field.source'), cell: (d) => d.source},
    {label: t('field.device_key'), cell: (d) => d.device_key, class: 'mono'},
    {label: t('field.topicCol'), cell: (d) => d.topic, class: 'mono wrap'},
  ]});
}
