#!/usr/bin/env node
import { exitQuietlyOnEpipe, main } from '../dist/cli/main.js';
exitQuietlyOnEpipe();
process.exitCode = await main(process.argv.slice(2));
