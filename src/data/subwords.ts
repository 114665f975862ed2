/**
 * Subword tokens for text: GPT-2's byte-level BPE (the `r50k_base` encoding, which RoBERTa, the
 * LRPE paper's text model, also uses), from the npm package `gpt-tokenizer`, which ships the
 * merges inside the package (nothing is downloaded).
 *
 * The small models of the workbook cannot afford GPT-2's 50 257-entry embedding and masked-LM
 * softmax, so a `SubwordVocab` keeps the `size − 4` BPE tokens most frequent in a training text and
 * maps every other one to UNK:
 *   id 0 = PAD, 1 = UNK, 2 = MASK, 3 = SEP (between documents in a stream), 4.. = kept BPE tokens,
 *   most frequent first (ties: the smaller BPE id first).
 */
import { assertInt } from '../backend/checks';

export const SUBWORD_PAD = 0;
export const SUBWORD_UNK = 1;
export const SUBWORD_MASK = 2;
export const SUBWORD_SEP = 3;
const RESERVED = 4;

type Encode = (text: string) => number[];
let encoder: Encode | null = null;

/** GPT-2 BPE ids (r50k_base, 0..50256) of `text`. */
export function gpt2Encode(text: string): number[] {
  if (typeof text !== 'string') throw new Error(`text: expected a string, got ${typeof text}`);
  if (!encoder) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      encoder = (require('gpt-tokenizer/encoding/r50k_base') as { encode: Encode }).encode;
    } catch (e) {
      throw new Error(`subwords: the npm package gpt-tokenizer (a dependency of rpelab) is not installed (${(e as Error).message.split('\n')[0]}); run npm ci`);
    }
  }
  return encoder(text);
}

/** The GPT-2 BPE ids of the first `maxTokens` tokens of `text` (tokenises a prefix first: long reviews cost no more than short ones). */
export function gpt2EncodePrefix(text: string, maxTokens: number): number[] {
  assertInt(maxTokens, 'maxTokens', 1);
  // English BPE averages ~4.5 characters per token; widen the prefix until it holds maxTokens (or is the whole text).
  for (let chars = maxTokens * 6; ; chars *= 2) {
    if (chars >= text.length) return gpt2Encode(text).slice(0, maxTokens);
    // Cut at a space so the last word is not split differently from the whole text.
    const cut = text.lastIndexOf(' ', chars);
    const ids = gpt2Encode(text.slice(0, cut > 0 ? cut : chars));
    if (ids.length >= maxTokens) return ids.slice(0, maxTokens);
  }
}

/** A cut GPT-2 vocabulary (see the module comment). */
export interface SubwordVocab {
  /** Number of ids, reserved ones included. */
  size: number;
  /** BPE id -> our id (UNK where not kept), [50257]. */
  fromBpe: Int32Array;
  /** Our id -> BPE id (-1 for the reserved ids), [size]. */
  toBpe: Int32Array;
  /** Share of the counted tokens that the kept ones cover. */
  coverage: number;
}

const BPE_SIZE = 50257;

/**
 * Keeps the `size − 4` most frequent BPE ids of `docs` (BPE id lists).
 * @param size vocabulary size including PAD, UNK, MASK and SEP (>= 5).
 */
export function buildSubwordVocab(docs: ArrayLike<number>[], size: number): SubwordVocab {
  assertInt(size, 'size', RESERVED + 1);
  const counts = new Float64Array(BPE_SIZE);
  let total = 0;
  for (const d of docs)
    for (let i = 0; i < d.length; i++) {
      const id = d[i];
      if (!(id >= 0 && id < BPE_SIZE)) throw new Error(`docs: expected GPT-2 BPE ids in [0, ${BPE_SIZE}), got ${id}`);
      counts[id]++;
      total++;
    }
  const order = Array.from({ length: BPE_SIZE }, (_, i) => i)
    .filter((i) => counts[i] > 0)
    .sort((a, b) => counts[b] - counts[a] || a - b)
    .slice(0, size - RESERVED);
  const fromBpe = new Int32Array(BPE_SIZE).fill(SUBWORD_UNK);
  const toBpe = new Int32Array(RESERVED + order.length).fill(-1);
  let kept = 0;
  order.forEach((bpe, j) => {
    fromBpe[bpe] = RESERVED + j;
    toBpe[RESERVED + j] = bpe;
    kept += counts[bpe];
  });
  return { size: RESERVED + order.length, fromBpe, toBpe, coverage: total > 0 ? kept / total : 0 };
}

/** Our ids of BPE ids `bpe` under `vocab`. */
export function toSubwordIds(vocab: SubwordVocab, bpe: ArrayLike<number>): Int32Array {
  return Int32Array.from(bpe, (id) => (id >= 0 && id < BPE_SIZE ? vocab.fromBpe[id] : SUBWORD_UNK));
}
