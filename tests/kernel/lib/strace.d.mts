/** Types for strace.mjs (also used by the TypeScript e2e tests). */
export function charmPaths(text: string, charmMarker: string): string[];
export function memoWatched(record: string): string[];
