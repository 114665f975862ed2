/**
 * A small real symbolic-music corpus, as MIDI-like event sequences (Oore et al. 2018's event
 * vocabulary, with time measured in beats). It stands in, at toy scale, for the SPE paper's
 * pop-piano (REMI, 1 747 pieces) and Groove2Groove corpora, neither of which is available offline.
 *
 * Sources (Debian packages; all tracks and channels of a file merged):
 * - `freedoom` (BSD-style Freedoom licence): the `D_*` music lumps of `/usr/share/games/doom/
 *   freedoom1.wad` and `freedoom2.wad` that are Standard MIDI Files (67 lumps, 66 distinct);
 * - `openttd-openmsx` (GPL-2.0): 31 `.mid` in `/usr/share/games/openttd/baseset/openmsx`;
 * - `planetblupi-music-midi` (GPL-3+): 10 `.mid` in `/usr/share/planetblupi/music`.
 * Files with identical bytes are kept once (the first by id). Ids: `freedoom1/D_E1M1`,
 * `openmsx/<file>.mid`, `planetblupi/<file>.mid`.
 *
 * Event vocabulary (`midiVocab`, defaults stepsPerBeat 12, maxShiftSteps 24, velocityBins 32,
 * size 315):
 *   0 PAD, 1 BOS, 2 EOS,
 *   3 + p             NOTE_ON pitch p (p = 0..127),
 *   131 + p           NOTE_OFF pitch p,
 *   259 + (k - 1)     TIME_SHIFT k steps, k = 1..maxShiftSteps (a step is 1/stepsPerBeat beat;
 *                     longer gaps are several shifts; with the defaults up to 2 beats per event),
 *   259 + maxShiftSteps + v   VELOCITY bin v = floor(velocity * velocityBins / 128), emitted before a
 *                     NOTE_ON only when the bin changes.
 * size = 3 + 256 + maxShiftSteps + velocityBins.
 *
 * Conversion: note events of all tracks are put on one timeline in ticks (note-on with velocity 0
 * is a note-off); at equal ticks note-offs come first, then file order. Times are quantised to
 * round(tick * stepsPerBeat / ticksPerBeat); tempo changes are ignored (time is in beats, as in
 * REMI and Groove2Groove's beat-shift timing). Leading silence is dropped. A note-off with no
 * sounding note of that pitch is dropped; notes still sounding at the end are closed there.
 * A piece is BOS, its events, EOS. Files with SMPTE time division are rejected.
 *
 * Split (deterministic, by file): ids sorted, permuted by `new Rng(seed)` (seed 0); the first
 * round(n * testFraction) files are test, the next round(n * validFraction) valid, the rest train
 * (defaults 0.1 / 0.1: 11 / 11 / 85 of the 107 distinct files).
 */
import * as fs from 'fs';
import { createHash } from 'crypto';
import * as path from 'path';
import { parseMidi } from 'midi-file';
import type { MidiData } from 'midi-file';
import { Rng } from '../backend/rng';
import { assertInt, assertNumber, assertOneOf } from '../backend/checks';
import { readWad } from './wad';
import { systemDir, missingDataError } from './paths';
import type { SplitName } from './gutenberg';

export interface MidiVocabOptions {
  /** Time-shift resolution, steps per beat (quarter note). Default 12. */
  stepsPerBeat?: number;
  /** Longest single TIME_SHIFT, in steps. Default 24. */
  maxShiftSteps?: number;
  /** Number of velocity bins. Default 32. */
  velocityBins?: number;
}

/** The event-id layout (see the module comment). */
export interface MidiVocab {
  stepsPerBeat: number;
  maxShiftSteps: number;
  velocityBins: number;
  size: number;
  pad: 0;
  bos: 1;
  eos: 2;
  noteOn: number;
  noteOff: number;
  timeShift: number;
  velocity: number;
}

/** The vocabulary for the given options: base ids of every event family and the total size. */
export function midiVocab(opts: MidiVocabOptions = {}): MidiVocab {
  const stepsPerBeat = opts.stepsPerBeat ?? 12;
  const maxShiftSteps = opts.maxShiftSteps ?? 24;
  const velocityBins = opts.velocityBins ?? 32;
  assertInt(stepsPerBeat, 'stepsPerBeat', 1);
  assertInt(maxShiftSteps, 'maxShiftSteps', 1);
  assertInt(velocityBins, 'velocityBins', 1, 128);
  const noteOn = 3;
  const noteOff = noteOn + 128;
  const timeShift = noteOff + 128;
  const velocity = timeShift + maxShiftSteps;
  return { stepsPerBeat, maxShiftSteps, velocityBins, size: velocity + velocityBins, pad: 0, bos: 1, eos: 2, noteOn, noteOff, timeShift, velocity };
}

/** A readable name for an event id, e.g. `NOTE_ON 60`, `TIME_SHIFT 3`, `VELOCITY 20`. */
export function midiEventName(id: number, vocab: MidiVocab): string {
  if (id === vocab.pad) return 'PAD';
  if (id === vocab.bos) return 'BOS';
  if (id === vocab.eos) return 'EOS';
  if (id >= vocab.noteOn && id < vocab.noteOff) return `NOTE_ON ${id - vocab.noteOn}`;
  if (id >= vocab.noteOff && id < vocab.timeShift) return `NOTE_OFF ${id - vocab.noteOff}`;
  if (id >= vocab.timeShift && id < vocab.velocity) return `TIME_SHIFT ${id - vocab.timeShift + 1}`;
  if (id >= vocab.velocity && id < vocab.size) return `VELOCITY ${id - vocab.velocity}`;
  throw new Error(`id: expected an event id in [0, ${vocab.size}), got ${id}`);
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/**
 * Parses a Standard MIDI File with `midi-file`, after checking its chunk structure (header, and
 * that each of the header's track chunks lies inside the file) and before checking every event's
 * fields. Any defect is an Error that names `source`.
 */
export function parseMidiFile(bytes: Uint8Array, source: string): MidiData {
  const bad = (why: string) => new Error(`midi: ${source}: malformed MIDI file: ${why}`);
  if (bytes.length < 14 || fourcc(bytes, 0) !== 'MThd') throw bad(`expected an 'MThd' header, got ${JSON.stringify(fourcc(bytes, 0))}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, false);
  const numTracks = view.getUint16(10, false);
  if (headerLength < 6) throw bad(`header chunk of ${headerLength} bytes (expected 6)`);
  let pos = 8 + headerLength;
  for (let t = 0; t < numTracks; t++) {
    if (pos + 8 > bytes.length) throw bad(`truncated: the header announces ${numTracks} tracks, the file ends after ${t}`);
    const len = view.getUint32(pos + 4, false);
    if (pos + 8 + len > bytes.length) throw bad(`truncated: chunk ${t + 1} ('${fourcc(bytes, pos)}') needs ${len} bytes, ${bytes.length - pos - 8} remain`);
    pos += 8 + len;
  }
  let data: MidiData;
  try {
    data = parseMidi(bytes);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  if (data.tracks.length !== numTracks) throw bad(`parsed ${data.tracks.length} of ${numTracks} tracks`);
  data.tracks.forEach((track, t) =>
    track.forEach((ev, i) => {
      const ok =
        Number.isInteger(ev.deltaTime) && ev.deltaTime >= 0 &&
        (ev.type !== 'noteOn' && ev.type !== 'noteOff'
          ? true
          : Number.isInteger(ev.noteNumber) && ev.noteNumber >= 0 && ev.noteNumber < 128 &&
            Number.isInteger(ev.velocity) && ev.velocity >= 0 && ev.velocity < 128 &&
            Number.isInteger(ev.channel) && ev.channel >= 0 && ev.channel < 16);
      if (!ok) throw bad(`track ${t}, event ${i} (${ev.type}) has invalid fields (truncated data?)`);
    }),
  );
  return data;
}

/**
 * Converts a MIDI file to event ids (see the module comment), BOS first and EOS last.
 * @param opts.drums keep channel 10 (GM percussion); default true.
 * @returns event ids, [n].
 */
export function midiToEvents(bytes: Uint8Array, source: string, opts: MidiVocabOptions & { drums?: boolean } = {}): Int32Array {
  const vocab = midiVocab(opts);
  const data = parseMidiFile(bytes, source);
  const tpb = data.header.ticksPerBeat;
  if (tpb === undefined || tpb <= 0) throw new Error(`midi: ${source}: SMPTE time division is not supported (need ticks per beat)`);
  const drums = opts.drums ?? true;

  type Note = { tick: number; on: boolean; pitch: number; velocity: number; order: number };
  const notes: Note[] = [];
  let order = 0;
  for (const track of data.tracks) {
    let tick = 0;
    for (const ev of track) {
      tick += ev.deltaTime;
      if (ev.type !== 'noteOn' && ev.type !== 'noteOff') continue;
      if (!drums && ev.channel === 9) continue;
      const on = ev.type === 'noteOn' && ev.velocity > 0;
      notes.push({ tick, on, pitch: ev.noteNumber, velocity: ev.velocity, order: order++ });
    }
  }
  notes.sort((x, y) => x.tick - y.tick || Number(x.on) - Number(y.on) || x.order - y.order);

  const out: number[] = [vocab.bos];
  const sounding = new Int32Array(128);
  let now: number | null = null;
  let velocityBin = -1;
  const advanceTo = (step: number) => {
    if (now === null) now = step; // drop leading silence
    for (let gap = step - now; gap > 0; gap -= vocab.maxShiftSteps) {
      out.push(vocab.timeShift + Math.min(gap, vocab.maxShiftSteps) - 1);
    }
    now = Math.max(now, step);
  };
  for (const n of notes) {
    if (!n.on && sounding[n.pitch] === 0) continue;
    advanceTo(Math.round((n.tick * vocab.stepsPerBeat) / tpb));
    if (n.on) {
      const bin = Math.floor((n.velocity * vocab.velocityBins) / 128);
      if (bin !== velocityBin) out.push(vocab.velocity + bin);
      velocityBin = bin;
      out.push(vocab.noteOn + n.pitch);
      sounding[n.pitch]++;
    } else {
      out.push(vocab.noteOff + n.pitch);
      sounding[n.pitch]--;
    }
  }
  for (let p = 0; p < 128; p++) for (; sounding[p] > 0; sounding[p]--) out.push(vocab.noteOff + p);
  out.push(vocab.eos);
  return Int32Array.from(out);
}

/** One source MIDI file: its id (see the module comment) and bytes. */
export interface MidiSource {
  id: string;
  bytes: Uint8Array;
}

/** Directories of the three Debian sources (defaults: the installed packages). */
export interface MidiDirs {
  /** Holds freedoom1.wad and freedoom2.wad. */
  freedoom?: string;
  /** Holds the openttd-openmsx `.mid` files. */
  openmsx?: string;
  /** Holds the planetblupi `.mid` files. */
  planetblupi?: string;
}

function midFiles(dir: string, prefix: string, pkg: string): MidiSource[] {
  const names = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.mid')).sort();
  if (names.length === 0) throw missingDataError(`midi: the .mid files of ${pkg}`, [dir]);
  return names.map((f) => ({ id: `${prefix}/${f}`, bytes: new Uint8Array(fs.readFileSync(path.join(dir, f))) }));
}

/**
 * Every distinct MIDI file of the three sources, sorted by id. Missing sources are an Error that
 * says how to install them (the corpus is never silently smaller).
 */
export function midiSources(dirs: MidiDirs = {}): MidiSource[] {
  const out: MidiSource[] = [];
  const doom = dirs.freedoom ?? systemDir('/usr/share/games/doom', 'freedoom');
  for (const wad of ['freedoom1', 'freedoom2']) {
    const file = path.join(doom, `${wad}.wad`);
    if (!fs.existsSync(file)) throw missingDataError(`midi: ${wad}.wad of freedoom`, [doom]);
    for (const lump of readWad(new Uint8Array(fs.readFileSync(file)), file).lumps) {
      if (lump.name.startsWith('D_') && lump.data.length >= 4 && fourcc(lump.data, 0) === 'MThd') {
        out.push({ id: `${wad}/${lump.name}`, bytes: lump.data });
      }
    }
  }
  out.push(...midFiles(dirs.openmsx ?? systemDir('/usr/share/games/openttd/baseset/openmsx', 'openttd-openmsx'), 'openmsx', 'openttd-openmsx'));
  out.push(...midFiles(dirs.planetblupi ?? systemDir('/usr/share/planetblupi/music', 'planetblupi-music-midi'), 'planetblupi', 'planetblupi-music-midi'));
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const seen = new Set<string>();
  return out.filter((s) => {
    const key = createHash('sha256').update(s.bytes).digest('hex');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface FileSplitOptions {
  seed?: number;
  validFraction?: number;
  testFraction?: number;
}

/**
 * The by-file split of the module comment.
 * @param ids file ids, [n] (order does not matter: they are sorted first).
 * @returns the ids of each split.
 */
export function splitFiles(ids: string[], opts: FileSplitOptions = {}): Record<SplitName, string[]> {
  const v = opts.validFraction ?? 0.1;
  const t = opts.testFraction ?? 0.1;
  assertNumber(v, 'validFraction', { min: 0, max: 1 });
  assertNumber(t, 'testFraction', { min: 0, max: 1 });
  const sorted = [...ids].sort();
  const perm = new Rng(opts.seed ?? 0).permutation(sorted.length);
  const nTest = Math.round(sorted.length * t);
  const nValid = Math.round(sorted.length * v);
  const pick = (from: number, to: number) => Array.from(perm.subarray(from, to), (i) => sorted[i]).sort();
  return { test: pick(0, nTest), valid: pick(nTest, nTest + nValid), train: pick(nTest + nValid, sorted.length) };
}

/** A converted piece. */
export interface MidiPiece {
  id: string;
  /** Event ids, BOS ... EOS, [n]. */
  events: Int32Array;
}

/** The corpus of the module comment for one split, with its vocabulary. */
export function midiCorpus(
  split: SplitName,
  opts: MidiVocabOptions & FileSplitOptions & { drums?: boolean; dirs?: MidiDirs } = {},
): { vocab: MidiVocab; pieces: MidiPiece[] } {
  assertOneOf(split, ['train', 'valid', 'test'] as const, 'split');
  const sources = midiSources(opts.dirs);
  const keep = new Set(splitFiles(sources.map((s) => s.id), opts)[split]);
  const pieces = sources.filter((s) => keep.has(s.id)).map((s) => ({ id: s.id, events: midiToEvents(s.bytes, s.id, opts) }));
  return { vocab: midiVocab(opts), pieces };
}

/** All pieces' events end to end (each already starts with BOS and ends with EOS), [sum of lengths]. */
export function concatPieces(pieces: MidiPiece[]): Int32Array {
  const out = new Int32Array(pieces.reduce((a, p) => a + p.events.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p.events, at);
    at += p.events.length;
  }
  return out;
}
