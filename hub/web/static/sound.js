// Alert tones from a WebAudio oscillator (no audio file). Browsers only let a page make sound after a
// user gesture: the login click unlocks it; after a reload, the first click or key press anywhere does.

let context = null;
const listeners = new Set();

export function onSoundState(fn) {
  listeners.add(fn);
  fn(enabled());
  return () => listeners.delete(fn);
}

export function enabled() {
  return Boolean(context && context.state === 'running');
}

function notify() {
  for (const fn of listeners) fn(enabled());
}

/** Call from a user gesture (click, key press). */
export function unlock() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!context) {
    context = new Ctx();
    context.addEventListener('statechange', notify);
  }
  if (context.state !== 'running') context.resume().then(notify, notify);
  notify();
}

for (const type of ['pointerdown', 'keydown']) {
  window.addEventListener(type, () => { if (!enabled()) unlock(); }, {capture: true});
}

function tone(freq, start, length, volume) {
  const osc = context.createOscillator();
  const gain = context.createGain();
  osc.type = 'sine';
  osc.frequency.value = freq;
  // Short attack and release: no clicks, nothing harsh.
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(volume, start + 0.02);
  gain.gain.setValueAtTime(volume, start + length - 0.04);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(context.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

/** Priority 1: three rising two-tone pulses, unmistakable. Priority 2: one soft tone. Others: silence. */
export function alert(priority) {
  if (!enabled() || priority > 2) return;
  const now = context.currentTime + 0.01;
  if (priority === 1) {
    for (let i = 0; i < 3; i++) {
      tone(880, now + i * 0.42, 0.18, 0.35);
      tone(1175, now + i * 0.42 + 0.2, 0.18, 0.35);
    }
  } else {
    tone(660, now, 0.25, 0.15);
  }
}
