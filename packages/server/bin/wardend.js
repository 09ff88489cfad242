#!/usr/bin/env node
'use strict';
// The wardend command of the bundled Warden server: see @warden/core.
require('@warden/core/bin/wardend.js');
