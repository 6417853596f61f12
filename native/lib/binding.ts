/**
 * The generated napi-rs loader (`native/binding.js`, committed with its `binding.d.ts`). Only
 * this facade talks to it: it takes strings and handles, not the objects apps pass around.
 */

import native = require('../binding.js');

export = native;
