#!/usr/bin/env node
// `npm run shield`: the origin shield is not built yet; say so plainly and fail.
console.error("The origin shield is not built yet. See README.md, section 'Status'.");
process.exit(1);
