#!/usr/bin/env node
// Thin launcher: the CLI is compiled into dist/ by `npm install` (the prepare script runs the build).
import '../dist/cli/entry.js';
