#!/bin/sh
# The origin shield's production build, step by step. deploy/Dockerfile runs these steps
# and tests/deploy/shield-build.test.ts runs the same ones in a copy of the repository,
# so what the test proves is what the image does.
#
#   deps     npm ci: every dependency, esbuild among the devDependencies (build stage)
#   build    bundle origin-shield/main.ts into dist/origin-shield/main.mjs (build stage,
#            after deps); packages stay external, loaded from node_modules at run time
#   runtime  npm ci --omit=dev, in a directory holding package.json and
#            package-lock.json: the runtime dependencies only, no esbuild, tsx or wrangler
#   check    with dist/origin-shield/ from the build stage beside them: load the bundle
#            and every package it imports (--help answers before anything listens), so a
#            runtime import that only a devDependency satisfied fails here, not in
#            production
#
# Then production runs: node dist/origin-shield/main.mjs --config FILE --host 0.0.0.0
set -eu

case "${1:-}" in
  deps)
    npm ci --no-audit --no-fund
    ;;
  build)
    npm run build
    test -s dist/origin-shield/main.mjs
    ;;
  runtime)
    npm ci --omit=dev --no-audit --no-fund
    ;;
  check)
    node dist/origin-shield/main.mjs --help >/dev/null
    echo "build-shield: dist/origin-shield/main.mjs loads with the runtime dependencies alone"
    ;;
  *)
    echo "usage: sh scripts/build-shield.sh deps|build|runtime|check" >&2
    exit 2
    ;;
esac
