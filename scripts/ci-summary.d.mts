/** Types for ci-summary.mjs (used by its unit test). */
export interface ClosingLine {
  readonly kind: 'jest' | 'kernel';
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}
export const EXPECTED: readonly { readonly name: string; readonly kind: 'jest' | 'kernel' }[];
export function summarise(text: string): {
  passed: number;
  failed: number;
  skipped: number;
  problems: string[];
  lines: ClosingLine[];
};
