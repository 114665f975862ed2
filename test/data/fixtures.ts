/** Tiny synthetic data files for the data tests: temp dirs, WAD archives, MIDI files. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeMidi } from 'midi-file';
import type { MidiEvent } from 'midi-file';

/** A fresh temporary directory; remove it with `removeDir`. */
export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rpelab-${label}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (relative name -> bytes or text) under `dir`, creating sub-directories. */
export function writeFiles(dir: string, files: Record<string, Uint8Array | string>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** A WAD archive (header, lump data, then the directory) holding `lumps` in order. */
export function buildWad(lumps: Array<{ name: string; data: Uint8Array }>, kind = 'IWAD'): Uint8Array {
  const dataBytes = lumps.reduce((a, l) => a + l.data.length, 0);
  const dirOffset = 12 + dataBytes;
  const out = new Uint8Array(dirOffset + 16 * lumps.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = kind.charCodeAt(i);
  view.setInt32(4, lumps.length, true);
  view.setInt32(8, dirOffset, true);
  let pos = 12;
  lumps.forEach((l, i) => {
    out.set(l.data, pos);
    const e = dirOffset + 16 * i;
    view.setInt32(e, pos, true);
    view.setInt32(e + 4, l.data.length, true);
    for (let k = 0; k < Math.min(8, l.name.length); k++) out[e + 8 + k] = l.name.charCodeAt(k);
    pos += l.data.length;
  });
  return out;
}

type NoteAt = { tick: number; type: 'noteOn' | 'noteOff'; pitch: number; velocity: number; channel: number };

/** A format-1 MIDI file from per-track lists of note events at absolute ticks. */
export function buildMidi(tracks: NoteAt[][], ticksPerBeat = 96): Uint8Array {
  const midiTracks: MidiEvent[][] = tracks.map((notes) => {
    let last = 0;
    const events: MidiEvent[] = notes.map((n) => {
      const ev = { deltaTime: n.tick - last, type: n.type, channel: n.channel, noteNumber: n.pitch, velocity: n.velocity } as MidiEvent;
      last = n.tick;
      return ev;
    });
    events.push({ deltaTime: 0, type: 'endOfTrack', meta: true } as MidiEvent);
    return events;
  });
  return Uint8Array.from(writeMidi({ header: { format: 1, numTracks: midiTracks.length, ticksPerBeat }, tracks: midiTracks }));
}

const on = (tick: number, pitch: number, velocity: number, channel = 0): NoteAt => ({ tick, type: 'noteOn', pitch, velocity, channel });
const off = (tick: number, pitch: number, channel = 0): NoteAt => ({ tick, type: 'noteOff', pitch, velocity: 0, channel });

/**
 * The reference MIDI file of the conversion test (96 ticks per beat, so 8 ticks per 1/12-beat step):
 * track 0 (channel 1): an unmatched note-off of 70 at tick 0; 60 on at 96 (velocity 100), off at 192
 *   (as note-on with velocity 0); 64 on at 192, off at 576; 72 on at 576, never released.
 * track 1 (channel 10, drums): 36 on at 144 (velocity 64), off at 152.
 */
export function referenceMidi(): Uint8Array {
  return buildMidi([
    [off(0, 70), on(96, 60, 100), on(192, 60, 0), on(192, 64, 100), off(576, 64), on(576, 72, 100)],
    [on(144, 36, 64, 9), off(152, 36, 9)],
  ]);
}

/** A short distinct MIDI file: one note of `pitch`, one beat long. */
export function oneNoteMidi(pitch: number): Uint8Array {
  return buildMidi([[on(0, pitch, 80), off(96, pitch)]]);
}
