import type { RegisterCommand } from '../io.js';
import { registerTimeline } from './timeline.js';
import { registerExport } from './export.js';
import { registerAnalyze } from './analyze.js';
import { registerDiff } from './diff.js';
import { registerCapture } from './capture.js';
import { registerReplay } from './replay.js';
import { registerSynth } from './synth.js';
import { registerReport } from './report.js';

/** Each command lives in its own file and registers itself here. */
export const COMMANDS: RegisterCommand[] = [registerCapture, registerTimeline, registerExport, registerAnalyze, registerDiff, registerReplay, registerSynth, registerReport];
