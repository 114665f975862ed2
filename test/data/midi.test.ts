import { strict as assert } from 'assert';
import * as path from 'path';
import {
  midiVocab, midiEventName, midiToEvents, parseMidiFile, readWad, midiSources, splitFiles, midiCorpus, concatPieces,
} from '../../src/data';
import { assertThrowsNaming } from '../helpers';
import { buildWad, oneNoteMidi, referenceMidi, removeDir, tempDir, writeFiles } from './fixtures';

const names = (ids: Int32Array) => Array.from(ids, (id) => midiEventName(id, midiVocab()));

describe('data/midi', () => {
  describe('event vocabulary', () => {
    it('has the documented layout: 3 specials, 128 note-on, 128 note-off, 24 shifts, 32 velocity bins = 315', () => {
      const v = midiVocab();
      assert.deepEqual([v.pad, v.bos, v.eos, v.noteOn, v.noteOff, v.timeShift, v.velocity, v.size], [0, 1, 2, 3, 131, 259, 283, 315]);
      assert.equal(midiEventName(3 + 60, v), 'NOTE_ON 60');
      assert.equal(midiEventName(131 + 127, v), 'NOTE_OFF 127');
      assert.equal(midiEventName(259, v), 'TIME_SHIFT 1');
      assert.equal(midiEventName(282, v), 'TIME_SHIFT 24');
      assert.equal(midiEventName(314, v), 'VELOCITY 31');
      assert.equal(midiVocab({ stepsPerBeat: 4, maxShiftSteps: 8, velocityBins: 8 }).size, 3 + 256 + 8 + 8);
      assertThrowsNaming(() => midiEventName(315, v), /id: expected an event id in \[0, 315\), got 315/);
      assertThrowsNaming(() => midiVocab({ velocityBins: 0 }), /velocityBins/);
    });
  });

  describe('conversion of a hand-built file (written with midi-file)', () => {
    it('merges tracks, quantises to 1/12 beat, bins velocity, drops leading silence and unmatched note-offs, closes held notes', () => {
      assert.deepEqual(names(midiToEvents(referenceMidi(), 'reference.mid')), [
        'BOS', 'VELOCITY 25', 'NOTE_ON 60', 'TIME_SHIFT 6', 'VELOCITY 16', 'NOTE_ON 36', 'TIME_SHIFT 1', 'NOTE_OFF 36',
        'TIME_SHIFT 5', 'NOTE_OFF 60', 'VELOCITY 25', 'NOTE_ON 64', 'TIME_SHIFT 24', 'TIME_SHIFT 24', 'NOTE_OFF 64',
        'NOTE_ON 72', 'NOTE_OFF 72', 'EOS',
      ]);
    });

    it('drops channel 10 with drums: false', () => {
      assert.deepEqual(names(midiToEvents(referenceMidi(), 'reference.mid', { drums: false })), [
        'BOS', 'VELOCITY 25', 'NOTE_ON 60', 'TIME_SHIFT 12', 'NOTE_OFF 60', 'NOTE_ON 64', 'TIME_SHIFT 24', 'TIME_SHIFT 24',
        'NOTE_OFF 64', 'NOTE_ON 72', 'NOTE_OFF 72', 'EOS',
      ]);
    });

    it('time shifts add up to the quantised duration for any resolution', () => {
      const v = midiVocab({ stepsPerBeat: 4, maxShiftSteps: 3 });
      const ev = midiToEvents(referenceMidi(), 'reference.mid', { stepsPerBeat: 4, maxShiftSteps: 3, drums: false });
      let steps = 0;
      for (const id of ev) if (id >= v.timeShift && id < v.velocity) steps += id - v.timeShift + 1;
      assert.equal(steps, (576 - 96) / 24); // first note at tick 96, last event at 576; 24 ticks per step
    });
  });

  describe('malformed MIDI gives an Error naming the file', () => {
    const good = () => referenceMidi();
    it('rejects a missing MThd header', () => {
      const b = good();
      b[0] = 0x52; // 'R'
      assertThrowsNaming(() => parseMidiFile(b, 'x/bad-header.mid'), /midi: x\/bad-header\.mid: malformed MIDI file: expected an 'MThd' header/);
    });
    it('rejects a truncated file', () => {
      const b = good();
      assertThrowsNaming(() => midiToEvents(b.subarray(0, b.length - 5), 'cut.mid'), /midi: cut\.mid: malformed MIDI file: truncated/);
    });
    it('rejects an event cut inside its chunk', () => {
      const b = Uint8Array.from([0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, 3, 0x00, 0x90, 0x3c]);
      assertThrowsNaming(() => parseMidiFile(b, 'short-event.mid'), /short-event\.mid: malformed MIDI file: track 0, event 0 \(noteOn\) has invalid fields/);
    });
    it('passes on midi-file parse errors as Errors naming the file', () => {
      const b = Uint8Array.from([0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, 2, 0x00, 0xf4]);
      assertThrowsNaming(() => parseMidiFile(b, 'odd-status.mid'), /odd-status\.mid: malformed MIDI file: Unrecognised MIDI event type byte: 244/);
    });
    it('rejects SMPTE time division', () => {
      const b = oneNoteMidi(60);
      b[12] = 0xe7; // -25 fps
      b[13] = 40;
      assertThrowsNaming(() => midiToEvents(b, 'smpte.mid'), /smpte\.mid: SMPTE time division is not supported/);
    });
  });

  describe('WAD archives', () => {
    it('reads the lump directory of a fake WAD', () => {
      const mid = oneNoteMidi(62);
      const wad = buildWad([{ name: 'MAP01', data: Uint8Array.from([1, 2, 3]) }, { name: 'D_RUNNIN', data: mid }]);
      const { kind, lumps } = readWad(wad, 'fake.wad');
      assert.equal(kind, 'IWAD');
      assert.deepEqual(lumps.map((l) => [l.name, l.data.length]), [['MAP01', 3], ['D_RUNNIN', mid.length]]);
      assert.deepEqual(Array.from(lumps[1].data), Array.from(mid));
    });
    it('rejects a bad magic, a truncated directory and a lump outside the file', () => {
      const wad = buildWad([{ name: 'D_X', data: oneNoteMidi(60) }]);
      const bad = wad.slice();
      bad[0] = 0x58;
      assertThrowsNaming(() => readWad(bad, 'bad.wad'), /wad: bad\.wad: bad magic "XWAD"/);
      assertThrowsNaming(() => readWad(wad.subarray(0, wad.length - 4), 'cut.wad'), /wad: cut\.wad: directory of 1 entries .* does not fit/);
      const out = wad.slice();
      new DataView(out.buffer).setInt32(out.length - 12, 1 << 20, true); // lump size
      assertThrowsNaming(() => readWad(out, 'big.wad'), /wad: big\.wad: lump 0 \(D_X\) .* lies outside/);
    });
  });

  describe('corpus from fixture directories', () => {
    let root = '';
    let dirs: { freedoom: string; openmsx: string; planetblupi: string };
    before(() => {
      root = tempDir('midi');
      dirs = { freedoom: path.join(root, 'doom'), openmsx: path.join(root, 'openmsx'), planetblupi: path.join(root, 'blupi') };
      const mus = Uint8Array.from([0x4d, 0x55, 0x53, 0x1a, 0, 0, 0, 0]); // a MUS-format lump: skipped
      writeFiles(root, {
        'doom/freedoom1.wad': buildWad([{ name: 'D_E1M1', data: oneNoteMidi(40) }, { name: 'D_MUS', data: mus }, { name: 'PLAYPAL', data: oneNoteMidi(41) }]),
        'doom/freedoom2.wad': buildWad([{ name: 'D_RUNNIN', data: oneNoteMidi(42) }, { name: 'D_COPY', data: oneNoteMidi(40) }]),
        'openmsx/a.mid': oneNoteMidi(50),
        'openmsx/b.mid': oneNoteMidi(51),
        'openmsx/readme.txt': 'not midi',
        'blupi/music000.mid': oneNoteMidi(60),
        'blupi/music000.ogg': 'not midi',
      });
    });
    after(() => removeDir(root));

    it('collects D_* MIDI lumps and .mid files, sorted by id, identical bytes kept once', () => {
      assert.deepEqual(midiSources(dirs).map((s) => s.id), [
        'freedoom1/D_E1M1', 'freedoom2/D_RUNNIN', 'openmsx/a.mid', 'openmsx/b.mid', 'planetblupi/music000.mid',
      ]);
    });

    it('splits by file: deterministic, disjoint, covering, sizes round(n * fraction)', () => {
      const ids = Array.from({ length: 107 }, (_, i) => `f${i}`);
      const a = splitFiles(ids);
      assert.deepEqual(a, splitFiles([...ids].reverse()));
      assert.deepEqual([a.train.length, a.valid.length, a.test.length], [85, 11, 11]);
      assert.deepEqual([...a.train, ...a.valid, ...a.test].sort(), [...ids].sort());
      assert.notDeepEqual(splitFiles(ids, { seed: 1 }).test, a.test);
    });

    it('midiCorpus converts the files of a split, every event id in range', () => {
      const all = (['train', 'valid', 'test'] as const).flatMap((s) => midiCorpus(s, { dirs, validFraction: 0.2, testFraction: 0.2 }).pieces);
      assert.deepEqual(all.map((p) => p.id).sort(), midiSources(dirs).map((s) => s.id));
      const pitch: Record<string, number> = {
        'freedoom1/D_E1M1': 40, 'freedoom2/D_RUNNIN': 42, 'openmsx/a.mid': 50, 'openmsx/b.mid': 51, 'planetblupi/music000.mid': 60,
      };
      for (const p of all) {
        assert.deepEqual(names(p.events), ['BOS', 'VELOCITY 20', `NOTE_ON ${pitch[p.id]}`, 'TIME_SHIFT 12', `NOTE_OFF ${pitch[p.id]}`, 'EOS'], p.id);
      }
      const stream = concatPieces(all);
      assert.equal(stream.length, 5 * 6);
      for (const id of stream) assert.ok(id >= 0 && id < midiVocab().size);
    });

    it('says how to install a missing source', () => {
      assertThrowsNaming(() => midiSources({ ...dirs, openmsx: dirs.freedoom }), /the \.mid files of openttd-openmsx/, /install-data\.sh/);
      assertThrowsNaming(() => midiSources({ ...dirs, freedoom: dirs.openmsx }), /freedoom1\.wad of freedoom/, /install-data\.sh/);
    });
  });
});
