import { analyzeTimeline, type AnalyzeOptions } from '../src/report/analyze.js';
import type { AnalyzeResult } from '../src/report/schema.js';
import { loadTimeline } from '../src/timeline/load.js';
import type { Timeline } from '../src/timeline/types.js';

/** For tests: a capture file analysed as `wgtrace analyze` does, without the CLI's stderr. */
export async function analyzeFile(path: string, opts: Omit<AnalyzeOptions, 'file'> = {}): Promise<{ result: AnalyzeResult; timeline: Timeline }> {
  const timeline = await loadTimeline(path);
  return { result: analyzeTimeline(timeline, { file: path, ...opts }), timeline };
}
