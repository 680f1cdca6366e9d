import { readFileSync } from 'node:fs';

/**
 * wgtrace's version, read from package.json: the one place it is written (`wgtrace
 * --version`, the `#@tool_version` of the captures `wgtrace capture` and `wgtrace synth`
 * write, the HTML report's footer). The path is the same from src/base (tests) and from
 * dist/base (the built CLI): both are two levels below the package root.
 */
function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const v = (pkg as { version?: unknown }).version;
  if (typeof v !== 'string' || v === '') throw new Error('package.json has no version');
  return v;
}

export const VERSION: string = readVersion();
