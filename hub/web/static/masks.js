// The motion-mask editor: the camera's picture in a <canvas> whose drawing size is the picture's own
// size, so every point is kept in the camera's pixels whatever size the canvas is shown at.
//   click: add a point (inside a finished polygon, with no drawing under way: select that polygon)
//   double-click, Enter, the first point again or "Finish polygon": close the polygon (3+ points)
//   drag a point: move it; Delete/Backspace: remove the selected polygon; Escape: drop the drawing

import {h} from './dom.js';
import {t} from './i18n.js';

const MAX_POLYGONS = 32;
const MAX_POINTS = 64;
const HANDLE_PX = 6;   // on screen

export class MaskEditor {
  constructor({width, height, image = null, masks = [], onChange = () => {}, readOnly = false}) {
    this.width = width;
    this.height = height;
    this.image = image;
    this.polygons = masks.map((poly) => poly.map(([x, y]) => [x, y]));
    this.draft = null;
    this.selected = null;
    this.drag = null;
    this.suppressClick = false;
    this.onChange = onChange;
    this.readOnly = readOnly;
    this.canvas = h('canvas', {id: 'mask-editor', class: 'mask-canvas', width: String(width), height: String(height),
      tabindex: '0', role: 'img', 'aria-label': t('cameras.masks')});
    this.status = h('span', {class: 'mask-status', 'aria-live': 'polite'});
    this.finishButton = h('button', {type: 'button', class: 'btn btn-small', onclick: () => this.finish()},
      t('cameras.finishPolygon'));
    this.deleteButton = h('button', {type: 'button', class: 'btn btn-small', onclick: () => this.removeSelected()},
      t('cameras.deletePolygon'));
    this.discardButton = h('button', {type: 'button', class: 'btn btn-small', onclick: () => this.discard()},
      t('cameras.clearDraft'));
    this.el = h('div', {class: 'mask-editor'},
      h('div', {class: 'mask-stage'}, this.canvas),
      readOnly ? null : h('div', {class: 'mask-tools'}, this.finishButton, this.deleteButton, this.discardButton,
        this.status));
    if (!readOnly) this.listen();
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.canvas);
    this.draw();
  }

  destroy() {
    this.resize.disconnect();
  }

  /** The polygons as the API takes them: [[[x, y], …], …] in camera pixels. */
  masks() {
    return this.polygons.map((poly) => poly.map(([x, y]) => [Math.round(x), Math.round(y)]));
  }

  /** Screen pixels → camera pixels (the canvas is scaled by CSS to fit the page). */
  scale() {
    const rect = this.canvas.getBoundingClientRect();
    return rect.width ? this.canvas.width / rect.width : 1;
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width / rect.width;
    const sy = this.canvas.height / rect.height;
    const x = Math.round((event.clientX - rect.left) * sx);
    const y = Math.round((event.clientY - rect.top) * sy);
    return [Math.min(Math.max(x, 0), this.width - 1), Math.min(Math.max(y, 0), this.height - 1)];
  }

  near(a, b) {
    const r = HANDLE_PX * 1.6 * this.scale();
    return Math.hypot(a[0] - b[0], a[1] - b[1]) <= r;
  }

  /** The vertex under p: {poly: index | 'draft', index}. */
  hit(p) {
    if (this.draft) {
      const i = this.draft.findIndex((q) => this.near(p, q));
      if (i >= 0) return {poly: 'draft', index: i};
    }
    for (let k = this.polygons.length - 1; k >= 0; k--) {
      const i = this.polygons[k].findIndex((q) => this.near(p, q));
      if (i >= 0) return {poly: k, index: i};
    }
    return null;
  }

  inside(p, poly) {
    let inside = false;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const [xi, yi] = poly[i];
      const [xj, yj] = poly[j];
      if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  listen() {
    const c = this.canvas;
    c.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      const hit = this.hit(this.point(event));
      this.drag = hit ? {...hit, moved: false} : null;
      if (hit) c.setPointerCapture(event.pointerId);
    });
    c.addEventListener('pointermove', (event) => {
      const p = this.point(event);
      if (!this.drag) {
        c.style.cursor = this.hit(p) ? 'move' : 'crosshair';
        return;
      }
      const poly = this.drag.poly === 'draft' ? this.draft : this.polygons[this.drag.poly];
      if (!poly) return;
      const [ox, oy] = poly[this.drag.index];
      if (!this.drag.moved && Math.hypot(p[0] - ox, p[1] - oy) < 2 * this.scale()) return;
      this.drag.moved = true;
      poly[this.drag.index] = p;
      this.draw();
    });
    c.addEventListener('pointerup', (event) => {
      if (!this.drag) return;
      if (c.hasPointerCapture(event.pointerId)) c.releasePointerCapture(event.pointerId);
      this.suppressClick = this.drag.moved;
      if (this.drag.moved) this.changed();
      this.drag = null;
    });
    c.addEventListener('click', (event) => {
      if (this.suppressClick) {
        this.suppressClick = false;
        return;
      }
      this.click(this.point(event));
    });
    c.addEventListener('dblclick', (event) => {
      event.preventDefault();
      if (this.draft) this.finish();
    });
    c.addEventListener('keydown', (event) => {
      if ((event.key === 'Delete' || event.key === 'Backspace') && this.selected != null) this.removeSelected();
      else if (event.key === 'Escape' && (this.draft || this.selected != null)) this.discard();
      else if (event.key === 'Enter' && this.draft) this.finish();
      else return;
      event.preventDefault();
      event.stopPropagation();
    });
  }

  click(p) {
    this.canvas.focus({preventScroll: true});
    if (this.draft) {
      if (this.draft.length >= 3 && this.near(p, this.draft[0])) {
        this.finish();
        return;
      }
      // The second click of a double-click lands on the point the first one added.
      if (this.near(p, this.draft[this.draft.length - 1])) return;
      this.draft.push(p);
      if (this.draft.length >= MAX_POINTS) this.finish();
      this.draw();
      return;
    }
    const found = this.polygons.findIndex((poly) => this.inside(p, poly));
    if (found >= 0) {
      this.selected = found;
    } else if (this.polygons.length < MAX_POLYGONS) {
      this.selected = null;
      this.draft = [p];
    }
    this.draw();
  }

  finish() {
    if (!this.draft) return;
    if (this.draft.length < 3) {
      this.status.textContent = t('cameras.needThree');
      return;
    }
    this.polygons.push(this.draft);
    this.selected = this.polygons.length - 1;
    this.draft = null;
    this.changed();
  }

  removeSelected() {
    if (this.selected == null) return;
    this.polygons.splice(this.selected, 1);
    this.selected = null;
    this.changed();
  }

  discard() {
    this.draft = null;
    this.selected = null;
    this.draw();
  }

  changed() {
    this.status.textContent = t('cameras.maskCount', {n: this.polygons.length});
    this.onChange(this.masks());
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const s = this.scale();
    ctx.clearRect(0, 0, this.width, this.height);
    if (this.image) {
      ctx.drawImage(this.image, 0, 0, this.width, this.height);
    } else {
      ctx.fillStyle = '#2a323c';
      ctx.fillRect(0, 0, this.width, this.height);
      ctx.strokeStyle = '#3a4450';
      ctx.lineWidth = s;
      for (let x = 0; x < this.width; x += this.width / 8) ctx.strokeRect(x, 0, this.width / 8, this.height);
      for (let y = 0; y < this.height; y += this.height / 6) ctx.strokeRect(0, y, this.width, this.height / 6);
    }
    this.polygons.forEach((poly, i) => this.shape(ctx, poly, i === this.selected ? 'selected' : 'mask', s));
    if (this.draft) this.shape(ctx, this.draft, 'draft', s);
    this.deleteButton.disabled = this.selected == null;
    this.finishButton.disabled = !this.draft || this.draft.length < 3;
    this.discardButton.disabled = !this.draft;
  }

  shape(ctx, poly, kind, s) {
    const colours = {mask: ['rgba(229, 72, 77, 0.30)', '#ff6b6b'], selected: ['rgba(255, 196, 0, 0.32)', '#ffd24d'],
      draft: ['rgba(77, 195, 255, 0.18)', '#4dc3ff']};
    const [fill, stroke] = colours[kind];
    ctx.beginPath();
    poly.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (kind !== 'draft') ctx.closePath();
    ctx.fillStyle = fill;
    if (kind !== 'draft' || poly.length >= 3) ctx.fill();
    ctx.lineWidth = 2 * s;
    ctx.setLineDash(kind === 'draft' ? [6 * s, 4 * s] : []);
    ctx.strokeStyle = stroke;
    ctx.stroke();
    ctx.setLineDash([]);
    poly.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(x, y, (kind === 'draft' && i === 0 ? HANDLE_PX + 2 : HANDLE_PX) * s, 0, Math.PI * 2);
      ctx.fillStyle = i === 0 && kind === 'draft' ? '#ffffff' : stroke;
      ctx.fill();
      ctx.lineWidth = 1.5 * s;
      ctx.strokeStyle = '#101418';
      ctx.stroke();
    });
  }
}
