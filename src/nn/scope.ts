/**
 * What a notebook keeps across its cells, by name. A cell stores its tensors and modules with
 * `keep(name, value)`; running the cell again frees what it kept under that name before and keeps
 * the new value, so any cell can be edited and re-run in any order without leaking and without
 * freeing what another cell still uses (no cell disposes another cell's state). `summary()` says
 * what is held; `dispose()` frees everything, for a notebook that wants to end clean.
 */
import { tf } from '../backend';
import { Module } from './module';

/** What `keep` accepts: a tensor, a module, or a (nested) list of them. */
export type Keepable = tf.Tensor | Module | readonly Keepable[];

function release(v: Keepable): void {
  if (Array.isArray(v)) (v as readonly Keepable[]).forEach(release);
  else if (v instanceof Module) v.dispose();
  else if (v instanceof tf.Tensor) {
    if (!v.isDisposed) v.dispose();
  }
}

function isKeepable(v: unknown): v is Keepable {
  return v instanceof tf.Tensor || v instanceof Module || (Array.isArray(v) && v.every(isKeepable));
}

function tensorsOf(v: Keepable): number {
  if (Array.isArray(v)) return (v as readonly Keepable[]).reduce((n: number, x) => n + tensorsOf(x), 0);
  if (v instanceof Module) return v.namedVariables().length;
  return (v as tf.Tensor).isDisposed ? 0 : 1;
}

function contains(haystack: Keepable, needle: tf.Tensor | Module): boolean {
  if (haystack === needle) return true;
  return Array.isArray(haystack) && (haystack as readonly Keepable[]).some((x) => contains(x, needle));
}

export class NotebookScope {
  private readonly held = new Map<string, Keepable>();

  /**
   * Keeps `value` under `name` and returns it. What was kept under `name` before is freed, except
   * the tensors and modules that `value` itself holds again.
   * @param name a non-empty label (one per cell's value, e.g. 'q0').
   */
  keep<T extends Keepable>(name: string, value: T): T {
    if (typeof name !== 'string' || name === '') throw new Error(`name: expected a non-empty string, got ${JSON.stringify(name)}`);
    if (!isKeepable(value)) throw new Error(`value: expected a tensor, a Module or a list of them for '${name}', got ${String(value)}`);
    const before = this.held.get(name);
    if (before !== undefined) {
      const old: Array<tf.Tensor | Module> = [];
      const flat = (v: Keepable) => (Array.isArray(v) ? (v as readonly Keepable[]).forEach(flat) : old.push(v as tf.Tensor | Module));
      flat(before);
      for (const o of old) if (!contains(value, o)) release(o);
    }
    this.held.set(name, value);
    return value;
  }

  /** The names kept, in the order they were first kept. */
  names(): string[] {
    return [...this.held.keys()];
  }

  /** Tensors held (a module counts its variables). */
  tensorCount(): number {
    return [...this.held.values()].reduce((n, v) => n + tensorsOf(v), 0);
  }

  /** One line: what the notebook holds, and what the backend has allocated in all. */
  summary(): string {
    const names = this.names();
    return `the notebook holds ${this.tensorCount()} tensor(s) under ${names.length} name(s)${names.length ? ` (${names.join(', ')})` : ''}; ${tf.memory().numTensors} allocated in all; re-running a cell frees what it kept before`;
  }

  /** Frees everything kept and forgets the names. */
  dispose(): void {
    for (const v of this.held.values()) release(v);
    this.held.clear();
  }
}

let shared: NotebookScope | null = null;

/** The scope of this process (one per notebook kernel): the same object however often a cell asks for it. */
export function notebookScope(): NotebookScope {
  return (shared ??= new NotebookScope());
}
