#!/usr/bin/env node
// The `neural-style` command (package.json "bin"): lets Node load the TypeScript sources through
// tsx, then runs src/cli/main.ts. Usage: neural-style --help
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
await runCli(process.argv.slice(2));
