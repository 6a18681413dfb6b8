#!/usr/bin/env bash
# tests/i18n/run.sh - an operator's template with an unknown variable stops
# the services that write mail at start, with the file, line and name.
#
#   1. postern-provision with POSTERN_TEMPLATE_DIR holding invitation.txt
#      that names {{bogus}}: exit 1 before it serves, and the log says
#      "template <dir>/invitation.txt line 2: unknown variable 'bogus'";
#   2. the same for postern-reaper and warning.txt (in a language
#      directory, de/), and for a message whose placeholder is unknown;
#   3. the same for postern-keylookup (graduated.txt, French) and
#      postern-webui (the page frame, page-head.html; the recovery
#      notice, recovered.html);
#   4. a malformed POSTERN_PRIMARY_COLOR stops it too, named.
#
# Needs the built binaries ($POSTERN_TEST_BIN, set by tests/run; else
# build/bin). Last line: "N passed, N failed"; exit 1 on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
bin=${POSTERN_TEST_BIN:-$root/build/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

# refused NAME WANT CMD... - CMD exits 1 within 20 s and its log has WANT
refused() {
	local name=$1 want=$2 rc
	shift 2
	timeout 20 "$@" >"$tmp/out" 2>&1
	rc=$?
	if [[ $rc -eq 1 ]] && grep -qF -- "$want" "$tmp/out"; then
		ok "$name"
	else
		not_ok "$name (exit $rc):"
		sed 's/^/    /' "$tmp/out"
	fi
}

key=$(head -c32 /dev/urandom | base64)
common=(env POSTERN_BROKER=tcp://127.0.0.1:9 POSTERN_HEALTH_LISTEN=127.0.0.1:0
	POSTERN_PROVISION_KEY="$key")

mkdir -p "$tmp/t1" "$tmp/t2/de" "$tmp/t3"
printf 'Hello\n{{bogus}}\n' >"$tmp/t1/invitation.txt"
refused "provision: unknown variable in an operator's template" \
	"template $tmp/t1/invitation.txt line 2: unknown variable 'bogus'" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t1" "$bin/postern-provision"

printf '{{#if org}}{{org}}{{/if}}\n{{_ "Hi {nobody}"}}\n' >"$tmp/t2/de/warning.txt"
refused "reaper: unknown variable in a message of a German template" \
	"template $tmp/t2/de/warning.txt line 2: unknown variable 'nobody' in a message" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t2" "$bin/postern-reaper" --once

mkdir -p "$tmp/t4/fr" "$tmp/t5"
printf 'Bonjour\n{{_ "Votre clé {bogus}"}}\n' >"$tmp/t4/fr/graduated.txt"
refused "keylookup: unknown variable in a message of a French template" \
	"template $tmp/t4/fr/graduated.txt line 2: unknown variable 'bogus' in a message" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t4" "$bin/postern-keylookup"

printf '<p>{{nosuch}}</p>\n' >"$tmp/t5/page-head.html"
refused "webui: unknown variable in the operator's page frame" \
	"template $tmp/t5/page-head.html line 1: unknown variable 'nosuch'" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t5" "$bin/postern-webui"

rm "$tmp/t5/page-head.html"
printf '<html>\n\n{{address}} {{pin}}\n' >"$tmp/t5/recovered.html"
refused "webui: unknown variable in the operator's recovery notice" \
	"template $tmp/t5/recovered.html line 3: unknown variable 'pin'" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t5" "$bin/postern-webui"

printf '{{#if link}}unclosed\n' >"$tmp/t3/invitation.html"
refused "provision: a template that does not parse" \
	"is not closed by {{/if}}" \
	"${common[@]}" POSTERN_TEMPLATE_DIR="$tmp/t3" "$bin/postern-provision"

refused "provision: a colour that is not #rrggbb" \
	"POSTERN_PRIMARY_COLOR is not #rrggbb" \
	"${common[@]}" POSTERN_PRIMARY_COLOR='red;background:url(http://x)' "$bin/postern-provision"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
