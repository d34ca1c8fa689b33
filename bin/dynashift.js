#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled package (built by `npm install` through the prepare script).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
