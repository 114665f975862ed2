/**
 * Rows beyond the two papers' own: encodings added to rpelab later, which join the causal LM
 * table (`lrpe-alm`) and both length-extrapolation experiments (`extrapolation-midi`,
 * `extrapolation-text`) through this one list. Each row is linear attention with φ = 1 + elu,
 * the base every other row of those tables shares, and no absolute PE.
 *
 * Adding an encoding to those tables is one line here (see docs/ARCHITECTURE.md, "Adding an encoding").
 */
import type { VariantDefinition } from './types';

export const EXTRA_ROWS: Record<string, VariantDefinition> = {
  retnet: { label: 'RetNet retention (rotation + γ decay)', attention: 'linear:elu+retnet', ape: 'none' },
};
