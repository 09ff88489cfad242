#!/usr/bin/env node
'use strict';
// The warden command of the bundled Warden server: see @warden/core.
require('@warden/core/bin/warden.js');
