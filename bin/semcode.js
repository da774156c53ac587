#!/usr/bin/env node
'use strict';
// The CLI is bundled by `npm run build` (esbuild.mjs) into dist/cli.js.
require('../dist/cli.js');
