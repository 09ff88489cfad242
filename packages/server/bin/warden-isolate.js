#!/usr/bin/env node
'use strict';
// The warden-isolate command of the bundled Warden server: see @warden/ns-linux.
require('@warden/ns-linux/bin/warden-isolate.js');
