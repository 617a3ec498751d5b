// The page's DOM, plain: the settings form (read and write WebSettings; log-scale weight
// sliders paired with numeric fields), the message area (one message per kind, with optional
// action buttons), and small helpers. No behaviour beyond the form's own (app.ts decides).

import type { PresetName } from '../style/config.ts';
import {
  DEFAULT_SETTINGS,
  formatWeight,
  parseRefineFrom,
  presetWeights,
  type Schedule,
  sliderToWeight,
  WEIGHT_SCALE,
  type WebSettings,
  weightToSlider,
  zeroStop,
} from './settings.ts';

/** The element with this id (throws when the page lacks it: a mismatch with index.html). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

const WEIGHT_KEYS = ['contentWeight', 'styleWeight', 'tvWeight'] as const;
type WeightKey = (typeof WEIGHT_KEYS)[number];

/** The settings form. */
export class Controls {
  private readonly fields = byId<HTMLFieldSetElement>('settings-fields');
  private readonly preset = byId<HTMLSelectElement>('preset');
  private readonly rows = byId<HTMLInputElement>('rows');
  private readonly pooling = byId<HTMLSelectElement>('pooling');
  private readonly optimizer = byId<HTMLSelectElement>('optimizer');
  private readonly schedule = byId<HTMLSelectElement>('schedule');
  private readonly iterations = byId<HTMLInputElement>('iterations');
  private readonly rounds = byId<HTMLInputElement>('rounds');
  private readonly evalsPerRound = byId<HTMLInputElement>('evalsPerRound');
  private readonly learningRate = byId<HTMLInputElement>('learningRate');
  private readonly init = byId<HTMLSelectElement>('init');
  private readonly seed = byId<HTMLInputElement>('seed');
  private readonly refineFrom = byId<HTMLInputElement>('refineFrom');
  private readonly maxBufferMib = byId<HTMLInputElement>('maxBufferMib');
  private readonly preserveColors = byId<HTMLSelectElement>('preserveColors');
  private readonly kernels = byId<HTMLSelectElement>('kernels');
  private readonly styleScale = byId<HTMLInputElement>('styleScale');
  readonly weightsUrl = byId<HTMLInputElement>('weights-url');
  private readonly listeners: Array<() => void> = [];

  constructor() {
    for (const key of WEIGHT_KEYS) {
      const range = byId<HTMLInputElement>(`${key}-range`);
      const num = byId<HTMLInputElement>(key);
      range.min = String(zeroStop(WEIGHT_SCALE));
      range.max = String(WEIGHT_SCALE.max);
      range.step = String(WEIGHT_SCALE.step);
      range.addEventListener('input', () => {
        num.value = formatWeight(sliderToWeight(Number(range.value)));
        this.changed();
      });
      num.addEventListener('input', () => {
        const v = Number(num.value);
        if (num.value.trim() !== '' && Number.isFinite(v) && v >= 0) range.value = String(weightToSlider(v));
        this.changed();
      });
    }
    this.preset.addEventListener('change', () => {
      this.applyPreset(this.preset.value as PresetName);
      this.changed();
    });
    byId('reset').addEventListener('click', () => {
      this.write({ ...DEFAULT_SETTINGS, ...presetWeights(this.preset.value as PresetName), preset: this.preset.value as PresetName });
      this.changed();
    });
    for (const el of [this.rows, this.pooling, this.optimizer, this.schedule, this.iterations, this.rounds, this.evalsPerRound, this.learningRate, this.init, this.seed, this.refineFrom, this.maxBufferMib, this.preserveColors, this.styleScale, this.kernels]) {
      el.addEventListener('input', () => this.changed());
      el.addEventListener('change', () => this.changed());
    }
  }

  /** Calls f after any edit. */
  onChange(f: () => void): void {
    this.listeners.push(f);
  }

  private changed(): void {
    this.updateVisibility();
    for (const f of this.listeners) f();
  }

  /** The preset's weights and pooling into the form (other settings stay). */
  applyPreset(preset: PresetName): void {
    this.describePreset(preset);
    const w = presetWeights(preset);
    for (const key of WEIGHT_KEYS) this.setWeight(key, w[key]);
    this.pooling.value = w.pooling;
  }

  private describePreset(preset: PresetName): void {
    byId('preset-note').textContent =
      preset === 'paper'
        ? 'Gatys et al. (2015): content at block4_conv2 (½ sum of squares), per-layer style normalisation, average pooling, α/β = 1e-3, no TV'
        : "the course notebook's loss (Keras VGG19): content at block5_conv2, style at block1–5_conv1, max pooling";
  }

  private setWeight(key: WeightKey, v: number): void {
    byId<HTMLInputElement>(key).value = formatWeight(v);
    byId<HTMLInputElement>(`${key}-range`).value = String(weightToSlider(v));
  }

  /** Shows the rows of the schedule in use (rounds or iterations) and the learning rate for Adam. */
  private updateVisibility(): void {
    const adam = this.optimizer.value === 'adam';
    const sched = this.schedule.value as Schedule;
    byId('rounds-row').hidden = sched !== 'rounds';
    byId('iterations-row').hidden = sched !== 'iterations';
    byId('lr-row').hidden = !adam;
  }

  write(s: WebSettings): void {
    this.preset.value = s.preset;
    this.describePreset(s.preset);
    this.rows.value = String(s.rows);
    for (const key of WEIGHT_KEYS) this.setWeight(key, s[key]);
    this.pooling.value = s.pooling;
    this.optimizer.value = s.optimizer;
    this.schedule.value = s.schedule;
    this.iterations.value = String(s.iterations);
    this.rounds.value = String(s.rounds);
    this.evalsPerRound.value = String(s.evalsPerRound);
    this.learningRate.value = String(s.learningRate);
    this.init.value = s.init;
    this.seed.value = String(s.seed);
    this.refineFrom.value = s.refineFrom.join(', ');
    this.maxBufferMib.value = String(s.maxBufferMib);
    this.preserveColors.value = s.preserveColors;
    this.kernels.value = s.kernels;
    this.styleScale.value = String(s.styleScale);
    this.updateVisibility();
  }

  /** The form's values (unchecked: see validateSettings). An empty or non-numeric field reads as NaN. */
  read(): WebSettings {
    const num = (el: HTMLInputElement) => (el.value.trim() === '' ? NaN : Number(el.value));
    return {
      preset: this.preset.value as PresetName,
      rows: num(this.rows),
      contentWeight: num(byId<HTMLInputElement>('contentWeight')),
      styleWeight: num(byId<HTMLInputElement>('styleWeight')),
      tvWeight: num(byId<HTMLInputElement>('tvWeight')),
      pooling: this.pooling.value as WebSettings['pooling'],
      optimizer: this.optimizer.value as WebSettings['optimizer'],
      schedule: this.schedule.value as Schedule,
      iterations: num(this.iterations),
      rounds: num(this.rounds),
      evalsPerRound: num(this.evalsPerRound),
      learningRate: num(this.learningRate),
      init: this.init.value as WebSettings['init'],
      seed: num(this.seed),
      refineFrom: parseRefineFrom(this.refineFrom.value),
      maxBufferMib: this.maxBufferMib.value.trim() === '' ? 0 : Number(this.maxBufferMib.value),
      preserveColors: this.preserveColors.value as WebSettings['preserveColors'],
      kernels: this.kernels.value as WebSettings['kernels'],
      styleScale: this.styleScale.value.trim() === '' ? 1 : Number(this.styleScale.value),
    };
  }

  setRows(rows: number): void {
    this.rows.value = String(rows);
    this.changed();
  }

  /** Locks the form while a run uses its values. */
  setLocked(locked: boolean): void {
    this.fields.disabled = locked;
  }
}

export type MessageKind = 'no-webgpu' | 'limits' | 'decode' | 'weights' | 'device-lost' | 'gpu-error' | 'settings' | 'error' | 'info';

export interface MessageAction {
  label: string;
  run: () => void;
  testid?: string;
}

/** The message area: at most one message per kind, newest first; each can be dismissed. */
export class Messages {
  private readonly host = byId('messages');
  private readonly shown = new Map<MessageKind, { el: HTMLElement; text: string }>();

  show(kind: MessageKind, title: string, text: string, actions: MessageAction[] = [], level: 'error' | 'warning' | 'info' = 'error'): void {
    this.clear(kind);
    const el = document.createElement('div');
    el.className = `message ${level}`;
    el.dataset.kind = kind;
    el.dataset.testid = `message-${kind}`;
    el.setAttribute('role', level === 'error' ? 'alert' : 'status');
    const h = document.createElement('strong');
    h.textContent = title;
    const p = document.createElement('p');
    p.textContent = text;
    el.append(h, p);
    if (actions.length) {
      const bar = document.createElement('div');
      bar.className = 'actions';
      for (const a of actions) {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = a.label;
        if (a.testid) b.dataset.testid = a.testid;
        b.addEventListener('click', () => {
          this.clear(kind);
          a.run();
        });
        bar.append(b);
      }
      el.append(bar);
    }
    if (kind !== 'no-webgpu') {
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'close';
      close.setAttribute('aria-label', 'dismiss');
      close.textContent = '×';
      close.addEventListener('click', () => this.clear(kind));
      el.append(close);
    }
    this.host.prepend(el);
    this.shown.set(kind, { el, text: `${title} ${text}` });
  }

  clear(...kinds: MessageKind[]): void {
    for (const k of kinds) {
      this.shown.get(k)?.el.remove();
      this.shown.delete(k);
    }
  }

  /** The messages on screen, for the tests' window.__app. */
  list(): Array<{ kind: MessageKind; text: string }> {
    return [...this.shown].map(([kind, m]) => ({ kind, text: m.text }));
  }
}
