#!/usr/bin/env bash
# Vendors GraphiQL and React from the npm registry, at pinned versions, into
# assets/ (committed and embedded in the binary: deployments are often
# offline, so the playground loads nothing from a CDN). Run it to upgrade.
set -euo pipefail
cd "$(dirname "$0")"
GRAPHIQL=3.8.3
REACT=18.3.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in graphiql-$GRAPHIQL react-$REACT react-dom-$REACT; do
  mkdir -p "$work/$pkg" && tar xzf "$work/$pkg.tgz" -C "$work/$pkg"
done
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" assets/
cp "$work/react-$REACT/package/umd/react.production.min.js" assets/
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" assets/
{
  echo "graphiql@$GRAPHIQL, react@$REACT, react-dom@$REACT (npm registry). Licences:"
  for pkg in graphiql-$GRAPHIQL react-$REACT react-dom-$REACT; do
    echo; echo "== ${pkg}"; cat "$work/$pkg/package/LICENSE"
  done
} > assets/LICENSES.txt
echo "vendored graphiql@$GRAPHIQL react@$REACT react-dom@$REACT"
