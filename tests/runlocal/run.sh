#!/usr/bin/env bash
# tests/runlocal/run.sh - "make run" as a user meets it: start tools/run-local
# (the script behind make run) in the background on free ports with its own
# data directory, send a first mail with posternctl as the demo sender, find
# the invitation in var/mail/, open its link over HTTP, check the assigned PIN
# with the demo sender's key, then stop it as Ctrl-C would and check that
# nothing is left running. Also: var/env runs other programs against the
# stack as in a pod (postern-reaper --dry-run prints its counts, opens no
# health port, and has its own role), and "make stop" followed at once by
# "make run" starts although the SMTP port has connections in TIME_WAIT.
# Last line: "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${POSTERN_BUILD:-$root/build}
[[ $build = /* ]] || build=$root/$build
bin=$build/bin
# shellcheck source=tools/servers
source "$root/tools/servers"

passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

work=$(mktemp -d /tmp/pnr.XXXXXX)
chmod 711 "$work"
var=$work/var
ports=()
for _ in 1 2 3 4 5 6 7 8; do ports+=("$(servers_free_port)"); done
hb=$(( $(servers_free_port) / 10 * 10 ))
export POSTERN_BUILD=$build POSTERN_LOCAL_VAR=$var
export POSTERN_LOCAL_PG_PORT=${ports[0]} POSTERN_LOCAL_REDIS_PORT=${ports[1]}
export POSTERN_LOCAL_SMTP_PORT=${ports[2]} POSTERN_LOCAL_BROKER_PORT=${ports[3]}
export POSTERN_LOCAL_WEB_PORT=${ports[4]} POSTERN_LOCAL_HEALTH_BASE=$hb
export POSTERN_LOCAL_MTA_PORT=${ports[5]} POSTERN_LOCAL_MILTER_PORT=${ports[6]}
export POSTERN_LOCAL_API_PORT=${ports[7]}

"$root/tools/run-local" > "$work/run.out" 2>&1 &
runner=$!
cleanup() {
	kill -TERM "$runner" 2>/dev/null
	wait "$runner" 2>/dev/null
	[[ $failed -eq 0 ]] && rm -rf "$work" || echo "# kept $work"
}
trap cleanup EXIT

# mail_for ADDRESS - the first mail the catcher stored for ADDRESS (waits up to 10 s; empty if none)
mail_for() {
	local m=""
	for _ in $(seq 1 100); do
		m=$(grep -l "$1" "$var"/mail/*.eml 2>/dev/null | head -n 1)
		[[ -n $m ]] && break
		sleep 0.1
	done
	echo "$m"
}

for _ in $(seq 1 600); do
	grep -q 'Postern is running' "$work/run.out" && break
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.2
done
if ! grep -q 'Postern is running' "$work/run.out"; then
	notok "run-local starts everything"
	sed 's/^/# /' "$work/run.out" | tail -20
	echo "$passed passed, $failed failed"
	exit 1
fi
ok "run-local starts everything and says what to do next"
check "it names the web UI URL" grep -q "http://127.0.0.1:${ports[4]}/" "$work/run.out"

export POSTERN_BROKER=tcp://127.0.0.1:${ports[3]}
export POSTERN_CERT=$var/certs/posternctl.cert POSTERN_BROKER_CERT=$var/certs/broker.cert
out=$("$bin/posternctl" send --from demo@example.com --to visitor@example.org --pin \
	--subject "First mail" --body "Hello from the demo" --sent-copy "$work/sent.eml" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "posternctl send as the demo sender succeeds" test "$rc" -eq 0
pin=$(sed -n 's/.*MAILBOX_CREATED.*pin=\([0-9]*\).*/\1/p' <<<"$out")
check "a new mailbox with a PIN" test -n "$pin"
check "the sent copy carries X-OxGuard-PIN" grep -q "^X-OxGuard-PIN: $pin" "$work/sent.eml"

mail=$(mail_for visitor@example.org)
check "the invitation arrives under var/mail/" test -n "$mail"
link=$(grep -o "http://127.0.0.1:${ports[4]}/m/[A-Za-z0-9_-]*" "$mail" 2>/dev/null | head -n 1)
check "the invitation holds the link" test -n "$link"
check "the invitation does not hold the PIN" bash -c "! grep -q '$pin' '$mail'"
code=$(curl -s -o "$work/page.html" -w '%{http_code}' "$link")
check "the link page answers over HTTP ($code)" bash -c "[[ $code == 200 || $code == 303 ]]"

pinout=$(GNUPGHOME=$var/demo/gnupg "$bin/posternctl" pin --sender demo@example.com \
	--recipient visitor@example.org 2>&1)
check "check assigned PIN: the demo sender's key decrypts it" grep -q "$pin" <<<"$pinout"

# the organisation's MTA (root only): a plain mail (no trigger) passes
# Postfix - and the gateway's milter when it is built - to the catcher
if [[ $(id -u) -eq 0 ]] && command -v swaks >/dev/null; then
	swaks --server "127.0.0.1:${ports[5]}" --from demo@example.com --to plain@example.org \
		--header 'Subject: no trigger' --body 'through Postfix' >"$work/swaks.out" 2>&1
	check "Postfix accepts a mail on POSTERN_LOCAL_MTA_PORT" grep -q '^<-  250 2.0.0' "$work/swaks.out"
	mail=$(mail_for plain@example.org)
	check "the mail through Postfix arrives under var/mail/" test -n "$mail"
fi

# var/env: other programs against the local stack, as they would run in a pod
check "make run writes var/env (mode 0600)" test "$(stat -c %a "$var/env" 2>/dev/null)" = 600
# the reaper's default health port is held (by a listener of ours if nothing
# else holds it): a dry run must neither need nor open one
occupier=""
if ! servers_port_busy 9105; then
	"$bin/postern-smtpsink" --listen 127.0.0.1:9105 --dir "$work/occupy" >/dev/null 2>&1 &
	occupier=$!
	for _ in $(seq 1 50); do servers_port_busy 9105 && break; sleep 0.1; done
fi
dry=$(env -i PATH="$PATH" bash -c 'set -a; . "$1"; POSTERN_LOG_LEVEL=debug "$2" --dry-run' _ \
	"$var/env" "$bin/postern-reaper" 2>"$work/dry.err")
rc=$?
[[ -n $occupier ]] && kill "$occupier" 2>/dev/null && wait "$occupier" 2>/dev/null
echo "# $dry"
check "postern-reaper --dry-run with var/env succeeds ($rc)" test "$rc" -eq 0
check "the dry run prints its counts" grep -Eq 'dry-run would_delete=[0-9]+ would_warn=[0-9]+' <<<"$dry"
check "the dry run opens no health port" bash -c "! grep -Eq 'health port open|cannot open health port' '$work/dry.err' && grep -q 'one-shot run: no health port' '$work/dry.err'"
check "the dry run used the reaper's certificate (no refusal)" bash -c "! grep -q 'status=perm' '$var/log/mailstore.log'"
pong=$(env -i PATH="$PATH" bash -c 'set -a; . "$1"; "$2" ping mailstore' _ "$var/env" \
	"$bin/posternctl" 2>&1)
check "posternctl with var/env reaches mailstore" grep -q 'mailstore' <<<"$pong"

# a connection the SMTP catcher closes first leaves its port in TIME_WAIT
{
	exec 3<>"/dev/tcp/127.0.0.1/${ports[2]}" && read -r -t 5 _ <&3 &&
		printf 'QUIT\r\n' >&3 && read -r -t 5 _ <&3
	exec 3<&-
} 2>/dev/null

# "make stop" from another terminal (a background job here ignores SIGINT,
# so Ctrl-C itself is the same trap reached through SIGTERM)
"$root/tools/run-local" --stop > "$work/stop.out" 2>&1
check "make stop (tools/run-local --stop) succeeds" grep -q 'Postern stopped' "$work/stop.out"
kill -TERM "$runner" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$runner" 2>/dev/null || break; sleep 0.2; done
check "run-local has ended" bash -c "! kill -0 $runner 2>/dev/null"

# ... and "make run" at once: TIME_WAIT sockets do not hold a port
tw=$(awk -v p="$(printf ':%04X' "${ports[2]}")" '$4 == "06" && substr($2, length($2) - 4) == p' \
	/proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l)
check "the SMTP port has connections in TIME_WAIT after the stop ($tw)" test "$tw" -gt 0
"$root/tools/run-local" > "$work/run2.out" 2>&1 &
runner=$!
for _ in $(seq 1 600); do
	grep -q 'Postern is running' "$work/run2.out" && break
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.2
done
check "make run right after make stop starts" grep -q 'Postern is running' "$work/run2.out"
grep -q 'Postern is running' "$work/run2.out" || sed 's/^/# /' "$work/run2.out" | tail -5
"$root/tools/run-local" --stop > "$work/stop2.out" 2>&1
kill -TERM "$runner" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$runner" 2>/dev/null || break; sleep 0.2; done
check "the second run has ended" bash -c "! kill -0 $runner 2>/dev/null"
for _ in $(seq 1 50); do pgrep -f "$var" >/dev/null || break; sleep 0.1; done
left=$(pgrep -af "$var")
[[ -n $left ]] && sed 's/^/# left: /' <<<"$left"
check "no Postern process is left" test -z "$left"
left=$(grep -lzxF "MAIL_CONFIG=$var/postfix/etc" /proc/[0-9]*/environ 2>/dev/null)
check "no Postfix process of var/postfix is left" test -z "$left"
check "the ports are free again" bash -c "! servers_port_busy ${ports[3]} 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/${ports[4]}) 2>/dev/null"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
