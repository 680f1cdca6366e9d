import { styleText } from 'node:util';

/**
 * Colour for the text reports: only when the CLI says so (stdout is a TTY and NO_COLOR is
 * unset or empty, see src/cli/io.ts). `util.styleText` with an array of styles always emits
 * colour on Node 20.20 (docs/facts.md, "Node.js `util.styleText`"), so only single styles are
 * used, and nothing is called at all when colour is off: golden outputs stay plain.
 */
export type StyleName = 'red' | 'yellow' | 'cyan' | 'gray' | 'green' | 'magenta' | 'bold' | 'dim';

export interface Painter {
  readonly color: boolean;
  paint(style: StyleName, text: string): string;
}

export function painter(color: boolean): Painter {
  return {
    color,
    // validateStream: false — the CLI already decided (styleText would otherwise re-check process.stdout).
    paint: (style, text) => (color && text !== '' ? styleText(style, text, { validateStream: false }) : text),
  };
}

export const PLAIN: Painter = painter(false);
