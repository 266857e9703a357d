/** How config values and YAML errors are named in a problem's message (shared by every option's parser). */
import type YAML from 'yaml';

/** How a config value of the wrong shape is named in a message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

/** A YAML parse error as one line, with its line number. */
export function yamlErrorText(e: YAML.YAMLError): string {
  const line = e.linePos?.[0]?.line;
  const first = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
  return line !== undefined ? `invalid YAML at line ${line}: ${first}` : `invalid YAML: ${first}`;
}
