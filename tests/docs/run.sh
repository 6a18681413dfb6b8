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
#   4. The table operation x role in docs/security.md ("Roles on the bus")
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
shared=$(git grep -nE "$notes|[.][.]/shared" -- ':!tests/docs/run.sh' 2>/dev/null)
if [[ -z $shared ]]; then
	ok "nothing cites the shared design notes"
else
	not_ok "files cite notes that are not in this repository:"
	sed 's/^/    /' <<<"$shared"
fi

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
if [[ ${#gone[@]} -eq 0 ]]; then
	ok "every file the documents name exists"
else
	not_ok "documents name files that do not exist:"
	printf '    %s\n' "${gone[@]}"
fi

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
if [[ ${#bad[@]} -eq 0 ]]; then
	ok "the \"Where is\" table of $arch points at $n functions that exist"
else
	not_ok "the \"Where is\" table of $arch is wrong:"
	printf '    %s\n' "${bad[@]}"
fi

# 4. the table operation x role of docs/security.md is what the code decides
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
