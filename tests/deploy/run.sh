#!/usr/bin/env bash
# tests/deploy/run.sh - validate deploy/ offline: render every kustomization,
# check every object against the Kubernetes schemas and Postern's security
# rules, check the Dockerfile. Last line: "N passed, N failed"; exit 1 on any
# failure.
#
# Needs node >= 18 and npm (the npm registry, the first time only). kubectl
# renders the kustomizations (`kubectl kustomize`, no cluster needed); it is
# not a Debian package, so it is not installed here: without it (and without
# a standalone kustomize) the validator checks the raw resource files the
# kustomizations list and says "# SKIP" for what it could not render.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

command -v node >/dev/null || { echo "not ok - node is not installed (apt-get install nodejs npm)"; echo "0 passed, 1 failed"; exit 1; }
if [[ ! -d $here/node_modules/kubernetes-models || ! -d $here/node_modules/js-yaml ]]; then
	# npm ci installs exactly the versions pinned in package-lock.json.
	(cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null) ||
		{ echo "not ok - npm ci in tests/deploy failed (is the npm registry reachable?)"; echo "0 passed, 1 failed"; exit 1; }
fi
exec node "$here/validate.mjs"
