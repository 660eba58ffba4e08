// The open alarms of the user's center, kept current: a list load, then the event stream. One Map by
// alarm_id; a message only replaces one with a lower seq, so the order in which the list and the
// stream answer does not matter; a closed alarm leaves the Map, and its id is remembered (the last
// CLOSED_KEPT of them) so that a late message of its earlier life cannot bring it back.

import {api, EventStream, query} from './api.js';
import {centerId} from './session.js';

export const alarms = new Map();
export const OPEN_UNACKED = new Set(['new', 'delivered', 'escalated']);
const listeners = new Set();
const statusListeners = new Set();
let stream = null;
let status = 'connecting';
let generation = 0;
export const state = {loaded: false, error: null};
const closed = new Map();   // alarm_id -> seq of the closing message, oldest first
const CLOSED_KEPT = 5000;

/** fn({alarm, prev, removed, fresh}) for every change; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

function emit(change) {
  for (const fn of listeners) {
    try {
      fn(change);
    } catch (err) {
      console.error(err);
    }
  }
}

function setStatus(value) {
  status = value;
  for (const fn of statusListeners) fn(value);
}

/** Take one alarm message (from the list, the stream, or an action's answer). */
export function merge(alarm, fromStream = false) {
  if (!alarm || !alarm.alarm_id) return;
  const prev = alarms.get(alarm.alarm_id);
  if (closed.has(alarm.alarm_id) && closed.get(alarm.alarm_id) >= (alarm.seq ?? 0)) return;
  if (prev && (prev.seq ?? 0) > (alarm.seq ?? 0)) return;
  if (prev && prev.seq === alarm.seq && prev.state === alarm.state) return;
  alarm._raised = Date.parse(alarm.raised_at || alarm.received_at) || Date.now();
  alarm._deadline = alarm.deadline_at ? Date.parse(alarm.deadline_at) : null;
  alarm._touched = performance.now();
  if (alarm.state === 'closed') {
    closed.delete(alarm.alarm_id);
    closed.set(alarm.alarm_id, alarm.seq ?? 0);
    if (closed.size > CLOSED_KEPT) closed.delete(closed.keys().next().value);
    if (prev) {
      alarms.delete(alarm.alarm_id);
      emit({alarm, prev, removed: true, fresh: false});
    }
    return;
  }
  alarms.set(alarm.alarm_id, alarm);
  emit({alarm, prev, removed: false, fresh: fromStream && !prev});
}

/**
 * Load every open alarm again; what is gone from the list (closed meanwhile) leaves the Map. Answers
 * the stream position the list was read at (following the stream from there misses nothing).
 */
export async function reload() {
  const started = performance.now();
  const mine = generation;
  const seen = new Set();
  let cursor = null;
  let position = null;
  try {
    for (let page = 0; page < 10; page++) {
      const body = await api('/api/v1/alarms' + query({open: 'true', center_id: centerId(), limit: 1000,
        cursor}));
      if (mine !== generation) return null;
      if (position === null && body.last_event_id != null) position = body.last_event_id;
      for (const alarm of body.items) {
        if (alarm.state === 'closed') continue;
        seen.add(alarm.alarm_id);
        merge(alarm, false);
      }
      cursor = body.next;
      if (!cursor) break;
    }
    for (const [id, alarm] of alarms) {
      if (!seen.has(id) && alarm._touched < started) {
        alarms.delete(id);
        emit({alarm, prev: alarm, removed: true, fresh: false});
      }
    }
    state.loaded = true;
    state.error = null;
  } catch (err) {
    if (mine !== generation) return null;
    state.error = err;
  }
  emit({alarm: null, prev: null, removed: false, fresh: false, reloaded: true});
  return position;
}

/** Follow the user's queue: the list, then the stream from the list's position. */
export async function start() {
  stop();
  const mine = ++generation;
  const position = await reload();
  if (mine !== generation) return;
  stream = new EventStream('/api/v1/alarms/stream' + query({center_id: centerId()}), {
    onEvent: (event) => {
      if (mine === generation && (event.type === 'alarm' || event.type === 'message')) merge(event.data, true);
    },
    onStatus: (value) => { if (mine === generation) setStatus(value); },
    onOpen: (reconnected) => {
      // Without a position (the list failed) the stream starts at "now": read the list again.
      if (mine === generation && (reconnected || position === null) && stream.lastId === null) reload();
    },
  });
  if (position !== null) stream.lastId = String(position);
  stream.start();
}

export function stop() {
  generation++;
  stream?.stop();
  stream = null;
  alarms.clear();
  state.loaded = false;
  state.error = null;
  setStatus('connecting');
}
