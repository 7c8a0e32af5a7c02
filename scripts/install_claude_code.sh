#!/usr/bin/env bash
# Installs the pinned Claude Code CLI into .tools/claude-code for the subagent's end-to-end test.
# Idempotent and quiet. Never fails the build: without npm (or when the install fails) the
# end-to-end test skips and says why.
set -u

VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${CLAUDE_CODE_PREFIX:-$ROOT/.tools/claude-code}"
MANIFEST="$PREFIX/node_modules/@anthropic-ai/claude-code/package.json"

installed_version() {
  [ -f "$MANIFEST" ] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$MANIFEST" | head -n 1
}

if ! command -v npm >/dev/null 2>&1; then
  echo "note: npm not found; the Claude Code end-to-end test will be skipped"
  exit 0
fi

if [ "$(installed_version)" = "$VERSION" ] && [ -x "$PREFIX/node_modules/.bin/claude" ]; then
  exit 0
fi

mkdir -p "$PREFIX"
# --no-save keeps npm from writing a package.json/lock into the prefix; the pin lives here.
if ! npm install --prefix "$PREFIX" --no-save --no-audit --no-fund --loglevel=error \
  "@anthropic-ai/claude-code@$VERSION" >"$PREFIX/install.log" 2>&1; then
  echo "note: could not install @anthropic-ai/claude-code@$VERSION (see $PREFIX/install.log);" \
    "the Claude Code end-to-end test will be skipped"
  exit 0
fi
echo "installed @anthropic-ai/claude-code@$VERSION into $PREFIX"
exit 0
