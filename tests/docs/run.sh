#!/usr/bin/env bash
# tests/docs/run.sh - the documents are mechanically true.
#
#   1. Every service's man-page header (services/<name>/main.c, the comment
#      that opens the file) names every variable of its own configuration
#      table, as "postern-<name> --help" lists it under "Environment
#      (<name>)". A variable added to a table without a word in the header
#      fails here.
#   2. No code comment, document or test cites a file that is not in this
#      repository: the design notes the project was started from (the
#      design, dependencies and style notes beside the checkout) are not
#      part of it; and every docs/*.md, README.md and file path named in a
#      document exists.
#   3. The newcomer table "Where is …" in docs/architecture.md: a row for
#      each of the twelve behaviours a maintainer looks for first, and
#      each row's file exists and defines its function (a line that
#      starts the definition, "type name(" or "name(", at column 0).
#   4. The layout stays readable: no source file in services/ or lib/src/
#      is over 900 lines, and no two files of one service (or of lib/)
#      include each other: module a (a.c, a.h and a private a_int.h)
#      includes b.h while module b includes a.h.
#   5. A variable that two services' tables name means one thing: it has
#      one default, unless the default names the service itself (its own
#      GnuPG home, say). POSTERN_MAX_MAIL_BYTES once meant two limits.
#   6. Tests say what they did: no test skips (cmocka's skip(), exit 77)
#      unless it is an opt-in benchmark behind a POSTERN_*BENCH variable -
#      a test that needs a server fails when it is missing; and every test
#      that draws random input takes its seed from tests/support/fuzz.h
#      (printed, POSTERN_FUZZ_SEED=N replays it).
#   7. What was once untangled stays so: the reaper deletes only through
#      DeleteMailboxes{take} (no delete-by-id fallbacks for an older
#      mailstore come back), and the web UI's test_login runs on a mailbox
#      of its own, using none of the globals test_journey leaves (bob_*).
#   8. The table operation x role in docs/security.md ("Roles on the bus")
#      is exactly what "posternctl roles" prints from lib/src/roles.c.
#
# Needs the built binaries ($POSTERN_TEST_BIN, set by tests/run; else
# build/bin). Last line: "N passed, N failed"; exit 1 on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
bin=${POSTERN_TEST_BIN:-$root/build/bin}
passed=0 failed=0

ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
# verdict GOOD BAD [ITEM...] - ok GOOD when there is no item, else not ok BAD and the items
verdict() {
	local good=$1 bad=$2
	shift 2
	if [[ $# -eq 0 ]]; then
		ok "$good"
	else
		not_ok "$bad"
		printf '    %s\n' "$@"
	fi
}

# 1. man-page headers against the configuration tables
for main in services/*/main.c; do
	name=$(basename "$(dirname "$main")")
	if [[ ! -x $bin/postern-$name ]]; then
		not_ok "$name: $bin/postern-$name is not built"
		continue
	fi
	header=$(awk 'NR == 1 && !/^\/\*/ { exit } { print } /\*\// { exit }' "$main")
	missing=()
	while read -r var; do
		[[ -n $var ]] || continue
		grep -qw -- "$var" <<<"$header" || missing+=("$var")
	done < <("$bin/postern-$name" --help 2>&1 |
		awk -v s="Environment ($name):" '$0 == s { on = 1; next } /^Environment/ { on = 0 } on { print $1 }')
	if [[ ${#missing[@]} -eq 0 ]]; then
		ok "$name: the man-page header names every variable of its table"
	else
		not_ok "$name: $main does not mention ${missing[*]}"
	fi
done

# 2. references to files outside the repository, or to files that are gone
# the names are put together here, so that this file does not cite them itself
notes=""
for n in DESIGN DEPENDENCIES STYLE; do notes+="${notes:+|}${n}[.]md"; done
mapfile -t shared < <(git grep -nE "$notes|[.][.]/shared" -- ':!tests/docs/run.sh' 2>/dev/null)
verdict "nothing cites the shared design notes" \
	"files cite notes that are not in this repository:" "${shared[@]}"

gone=()
for doc in README.md docs/*.md deploy/README.md bench/README.md; do
	[[ -f $doc ]] || continue
	dir=$(dirname "$doc")
	# (name.md) links and `path/with/a/slash.ext` mentions
	while read -r ref; do
		ref=${ref%%#*}
		[[ -n $ref ]] || continue
		[[ -e $ref || -e $dir/$ref ]] || gone+=("$doc: $ref")
	done < <(grep -oE '\]\([^)#:]+\)' "$doc" | sed 's/^](//; s/)$//'
		grep -oE '`(lib|services|tests|tools|deploy|proto|bench|docs|share)/[A-Za-z0-9_./-]+\.(c|h|md|sh|mjs|proto|sql|yaml|lua)`' "$doc" | tr -d '`')
done
verdict "every file the documents name exists" "documents name files that do not exist:" \
	"${gone[@]}"

# 3. the newcomer table: every file exists and defines its function
arch=docs/architecture.md
want=("PIN lock-out" "invitation text" "HTML sandbox" "CSRF" "idempotency" "outbox"
	"heartbeat" "reaper batch" "key pool" "page cache" "session seal" "config")
bad=()
for b in "${want[@]}"; do
	grep -q "^| *$b *|" <(awk '/^## Where is/ { on = 1; next } /^## / { on = 0 } on' "$arch") ||
		bad+=("no row for \"$b\"")
done
n=0
while IFS='|' read -r _ what file func _; do
	what=$(xargs <<<"$what") file=$(tr -d '` ' <<<"$file") func=$(tr -d '` ' <<<"$func")
	n=$((n + 1))
	if [[ ! -f $file ]]; then
		bad+=("$what: $file does not exist")
	elif [[ ! $func =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		bad+=("$what: \"$func\" is not a function name")
	elif ! grep -qE "^([A-Za-z_].*[^A-Za-z0-9_])?$func\(" "$file"; then
		bad+=("$what: $file does not define $func")
	fi
done < <(awk '/^## Where is/ { on = 1; next } /^## / { on = 0 } on && /^\|/ && !/^\| *(Behaviour|-)/' "$arch")
[[ $n -ge ${#want[@]} ]] || bad+=("the table has $n rows, want ${#want[@]}")
verdict "the \"Where is\" table of $arch points at $n functions that exist" \
	"the \"Where is\" table of $arch is wrong:" "${bad[@]}"

# 4. file sizes and modules that include each other
mapfile -t big < <(git ls-files -- 'services/*.c' 'services/*.h' 'lib/src/*.c' 'lib/src/*.h' |
	xargs wc -l | awk '$2 != "total" && $1 > 900 { print $2 ": " $1 " lines" }')
verdict "no file in services/ or lib/src/ is over 900 lines" "files over 900 lines:" "${big[@]}"

# edges "a b": module a (a.c, a.h or its private a_int.h) includes b.h, a header of its own unit
include_edges() {
	local f mod h
	for f in "$@"; do
		mod=$(basename "${f%.*}")
		mod=${mod%_int}
		grep -oE '^#include "[^"]+\.h"' "$f" | sed -E 's/^#include "(.*\/)?([^"/]+)\.h"$/\2/; s/_int$//' |
			while read -r h; do
				[[ $h != "$mod" ]] && printf '%s %s\n' "$mod" "$h"
			done
	done
}
pairs=()
for unit in services/*/ lib/; do
	if [[ $unit == lib/ ]]; then
		files=(lib/src/*.c lib/src/*.h lib/include/postern/*.h)
	else
		files=("$unit"*.c "$unit"*.h)
	fi
	mapfile -t files < <(ls -d "${files[@]}" 2>/dev/null)
	edges=$(include_edges "${files[@]}" | sort -u)
	while read -r a b; do
		[[ -n $a && $a < $b ]] && grep -qx "$b $a" <<<"$edges" && pairs+=("$unit: $a and $b")
	done <<<"$edges"
done
verdict "no two files of one service or of lib/ include each other" \
	"modules that include each other:" "${pairs[@]}"

# 5. one variable, one default
mapfile -t defaults < <(for main in services/*/main.c; do
	name=$(basename "$(dirname "$main")")
	[[ -x $bin/postern-$name ]] || continue
	"$bin/postern-$name" --help 2>&1 |
		awk -v s="Environment ($name):" -v n="$name" '
			$0 == s { on = 1; next } /^Environment/ { on = 0 }
			on && $1 ~ /^POSTERN_/ {
				d = $0; sub(/.*\(default /, "", d); sub(/(, [0-9-]+\.\.[0-9-]+)?\).*/, "", d)
				if (index(d, n) == 0) print $1, n, d
			}'
done | sort | awk '$1 == var && $3 != def { print $1 ": " $3 " in " $2 ", " def " in " svc }
	{ var = $1; svc = $2; def = $3 }')
verdict "a variable named by two services has one default" \
	"variables with two defaults (two meanings: give them two names):" "${defaults[@]}"

# 6. no skipping tests; replayable random input
tests=$(git ls-files -- 'lib/tests/*.c' 'services/*/tests/*.c' 'tests/it/*.c' 'tests/chaos/*.c' 'tests/*/run.sh' ':!tests/docs/run.sh')
mapfile -t skips < <(grep -nE '\bskip\(\)|exit 77' $tests | while IFS=: read -r f l _; do
	# an opt-in benchmark: the skip sits right under a POSTERN_*BENCH test
	sed -n "$((l > 3 ? l - 3 : 1)),${l}p" "$f" | grep -qE 'POSTERN_[A-Z_]*BENCH' || echo "$f:$l"
done)
verdict "no test skips (a missing server fails); only opt-in benchmarks may" "tests that skip:" \
	"${skips[@]}"
unseeded=()
for f in $(grep -lE '\brand(_r)?\(|\bsrand\(|\brandom\(\)|randombytes_uniform\(' $(grep -E '_test\.c$' <<<"$tests")); do
	grep -q 'ts_fuzz_' "$f" || unseeded+=("$f")
done
verdict "every test that draws random input prints its seed and takes one (tests/support/fuzz.h)" \
	"random input without a printed, replayable seed:" "${unseeded[@]}"

# 7. once untangled, stays so
mapfile -t fallbacks < <(git grep -nE '\bpn_ms_delete_mailbox\b|\bms_db_delete_mailboxes?\b|\(\*remove(_batch)?\)' \
	-- services lib tools tests ':!tests/docs/run.sh')
verdict "the reaper deletes only through DeleteMailboxes{take}" \
	"delete-by-id fallbacks are back:" "${fallbacks[@]}"
mapfile -t journey < <(awk '/^static void test_login\(/ { on = 1 } on && /(^|[^A-Za-z0-9_])bob_[a-z]+/ { print FILENAME ":" FNR ": " $0 }
	on && /^}/ { on = 0 }' tests/it/webui_test.c)
body=$(awk '/^static void test_login\(/ { on = 1 } on { print } on && /^}/ { exit }' tests/it/webui_test.c)
[[ -n $body ]] || journey+=("tests/it/webui_test.c has no test_login")
verdict "test_login uses none of test_journey's globals" "test_login depends on the journey:" \
	"${journey[@]}"

# 8. the table operation x role of docs/security.md is what the code decides
sec=docs/security.md
doc_table=$(awk '/^<!-- roles table:/ { on = 1; next } /^<!-- end of roles table -->/ { on = 0 } on' "$sec")
if [[ ! -x $bin/posternctl ]]; then
	not_ok "roles: $bin/posternctl is not built"
elif [[ -z $doc_table ]]; then
	not_ok "roles: $sec has no table between the roles table markers"
elif diff <("$bin/posternctl" roles) <(printf '%s\n' "$doc_table") > /tmp/roles-diff.$$; then
	ok "roles: the operation x role table of $sec is what \"posternctl roles\" prints"
else
	not_ok "roles: the table of $sec differs from \"posternctl roles\" (< code, > document):"
	sed 's/^/    /' /tmp/roles-diff.$$
fi
rm -f /tmp/roles-diff.$$

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
