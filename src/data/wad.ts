/**
 * Doom WAD archives (the container of Freedoom's music): a 12-byte header
 * (`IWAD` or `PWAD`, int32 LE lump count, int32 LE directory offset), then a directory of 16-byte
 * entries (int32 LE data offset, int32 LE size, 8-byte NUL-padded ASCII name).
 */

/** One named entry of a WAD. `data` is a view into the WAD buffer. */
export interface WadLump {
  name: string;
  data: Uint8Array;
}

/**
 * Parses a WAD's directory, checking the magic and that the directory and every lump lie inside
 * the buffer.
 * @param source a name for the buffer in error messages (usually the file path).
 */
export function readWad(buf: Uint8Array, source: string): { kind: 'IWAD' | 'PWAD'; lumps: WadLump[] } {
  if (buf.length < 12) throw new Error(`wad: ${source}: truncated header (${buf.length} bytes, expected 12)`);
  const kind = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]);
  if (kind !== 'IWAD' && kind !== 'PWAD') throw new Error(`wad: ${source}: bad magic ${JSON.stringify(kind)} (expected "IWAD" or "PWAD")`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = view.getInt32(4, true);
  const dir = view.getInt32(8, true);
  if (count < 0 || dir < 12 || dir + 16 * count > buf.length) {
    throw new Error(`wad: ${source}: directory of ${count} entries at offset ${dir} does not fit in ${buf.length} bytes (truncated?)`);
  }
  const lumps: WadLump[] = [];
  for (let i = 0; i < count; i++) {
    const e = dir + 16 * i;
    const pos = view.getInt32(e, true);
    const size = view.getInt32(e + 4, true);
    let name = '';
    for (let k = 0; k < 8 && buf[e + 8 + k] !== 0; k++) name += String.fromCharCode(buf[e + 8 + k]);
    if (pos < 0 || size < 0 || pos + size > buf.length) {
      throw new Error(`wad: ${source}: lump ${i} (${name}) at ${pos}+${size} lies outside the ${buf.length}-byte file`);
    }
    lumps.push({ name, data: buf.subarray(pos, pos + size) });
  }
  return { kind, lumps };
}
