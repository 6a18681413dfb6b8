#!/usr/bin/env bash
# tests/browser/run.sh - the recipient's journey in Debian's headless
# Chromium (playwright-core, /usr/bin/chromium), against the real stack
# started here: broker, mailstore (its own database), keylookup,
# provision, the SMTP sink and the web UI, with CURVE on.
#
# Runs under tests/run, which provides Redis, PostgreSQL, the
# certificates and POSTERN_TEST_{BIN,TMP,CERTS,PG,REDIS}. Screenshots of
# every step (desktop 1280x800 and phone 390x844) go to build/browser/
# and to the run's scratch directory (rich-*.png: three rich mails). Five
# scripts: reading.mjs (rich mail and what it must not leak), journey.mjs (the whole
# journey of one recipient), german.mjs (a recipient invited in German,
# without JavaScript, switching to English), lockout.mjs (a third recipient's PIN
# lock-out, one phase per web UI process: run.sh restarts postern-webui
# between the phases) and recover.mjs (a fourth recipient's recovery code).
# Then the hostile HTML corpus (hostile.sh, hostile.mjs): every vector a
# mail, viewed with a canary counting what leaves; HOSTILE=all for all of
# it, BROWSER_ONLY=hostile for only that.
# Last line: "N passed, N failed" over all.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/servers
source "$root/tools/servers"

fail() { echo "not ok - $*"; echo "0 passed, 1 failed"; exit 1; }
for v in POSTERN_TEST_BIN POSTERN_TEST_TMP POSTERN_TEST_CERTS POSTERN_TEST_PG POSTERN_TEST_REDIS; do
	[[ -n ${!v:-} ]] || fail "$v is not set: run this through tests/run (make test)"
done
[[ -x /usr/bin/chromium ]] || fail "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || fail "node is not installed"
if [[ ! -d $here/node_modules/playwright-core ]]; then
	(cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null) ||
		fail "npm ci in tests/browser failed (is the npm registry reachable?)"
fi

bin=$POSTERN_TEST_BIN
certs=$POSTERN_TEST_CERTS
work=$(mktemp -d "$POSTERN_TEST_TMP/br.XXXX")
shots=$root/build/browser
rm -rf "$shots" && mkdir -p "$shots" "$work/shots" "$work/mail" "$work/kr"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do timeout 20 tail --pid="$p" -f /dev/null 2>/dev/null; done
	for d in "$work"/g "$work"/a "$work"/kr "$work"/w/*; do
		[[ -d $d ]] && timeout 10 gpgconf --homedir "$d" --kill all >/dev/null 2>&1
	done
	cp -r "$work/shots/." "$shots/" 2>/dev/null
}
trap cleanup EXIT

port() { servers_free_port; }
# start NAME ENV... - a service in the background, its log in the run's logs
start() {
	local name=$1 health
	shift
	health=$(port)
	env "$@" POSTERN_CERT="$certs/$name.cert" POSTERN_BROKER_CERT="$certs/broker.cert" \
		POSTERN_BROKER="$broker" POSTERN_HEALTH_LISTEN="127.0.0.1:$health" \
		"$bin/postern-$name" >"$POSTERN_TEST_TMP/logs/browser-$name.log" 2>&1 &
	pids+=($!)
	for ((i = 0; i < 300; i++)); do
		curl -fs "http://127.0.0.1:$health/readyz" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$POSTERN_TEST_TMP/logs/browser-$name.log"
	fail "postern-$name did not get ready"
}

bport=$(port)
broker=tcp://127.0.0.1:$bport
hb=$(port)
env POSTERN_BROKER_LISTEN="$broker" POSTERN_CERT="$certs/broker.cert" \
	POSTERN_ALLOW_DIR="$certs/allow" POSTERN_HEALTH_LISTEN="127.0.0.1:$hb" \
	"$bin/postern-broker" >"$POSTERN_TEST_TMP/logs/browser-broker.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do curl -fs "http://127.0.0.1:$hb/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

db=br_$$_$RANDOM
psql "$POSTERN_TEST_PG dbname=postgres" -qc "CREATE DATABASE $db" >/dev/null || fail "createdb"
smtp=$(port)
"$bin/postern-smtpsink" --listen "127.0.0.1:$smtp" --dir "$work/mail" \
	>"$POSTERN_TEST_TMP/logs/browser-smtpsink.log" 2>&1 &
pids+=($!)
web=$(port)
url=http://127.0.0.1:$web
domain=br$$.example

# the sender alice has an OpenPGP key, known to keylookup's keyring: the
# reply is encrypted to it, and her secret key (in $work/a) decrypts it
mkdir -p -m 700 "$work/a" && chmod 700 "$work/kr"
printf 'pinentry-mode loopback\n' >"$work/a/gpg.conf"
gpg --homedir "$work/a" --batch --quiet --passphrase alice-pass --quick-gen-key \
	"Alice Sender <alice@$domain>" future-default default never 2>/dev/null || fail "alice's key"
gpg --homedir "$work/a" --batch --export --armor "alice@$domain" >"$work/alice.asc"
gpg --homedir "$work/kr" --batch --quiet --import "$work/alice.asc" 2>/dev/null || fail "keyring import"
timeout 10 gpgconf --homedir "$work/kr" --kill all >/dev/null 2>&1

start mailstore POSTERN_PG_DSN="$POSTERN_TEST_PG dbname=$db" POSTERN_SMTP_URL="smtp://127.0.0.1:$smtp" \
	POSTERN_OUTBOX_INTERVAL_MS=100 POSTERN_SMTP_STARTTLS=off
start keylookup POSTERN_REDIS="$POSTERN_TEST_REDIS" POSTERN_KEYRING_DIR="$work/kr"
# the organisation's brand: provision's mails and the web UI's pages
brand=(POSTERN_ORG_NAME="Example Org" POSTERN_LOGO_FILE="$root/share/postern/logo.png")
start provision POSTERN_REDIS="$POSTERN_TEST_REDIS" POSTERN_GNUPGHOME="$work/g" \
	POSTERN_PROVISION_KEY="$(head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
	POSTERN_PUBLIC_URL="$url" "${brand[@]}"
mkdir -p "$work/w"
start_webui() {
	start webui POSTERN_REDIS="$POSTERN_TEST_REDIS" POSTERN_WEBUI_LISTEN="127.0.0.1:$web" \
		POSTERN_GNUPGHOME="$work/w" POSTERN_WEBUI_THREADS=4 POSTERN_WEBUI_IMAGE_PROXY_PRIVATE=1 \
		POSTERN_PASSWORD_BLOCKLIST="$root/share/postern/common-passwords.txt" \
		POSTERN_RECOVERY_LOCKOUT_AFTER=4 "${brand[@]}"
	webui_pid=${pids[-1]}
}
# restart_webui - SIGTERM, wait for the exit, start again on the same port
restart_webui() {
	kill -TERM "$webui_pid" 2>/dev/null
	timeout 20 tail --pid="$webui_pid" -f /dev/null 2>/dev/null || fail "postern-webui did not stop"
	start_webui
}
start_webui

# the mail: text, an HTML part with hostile content, an attachment
printf 'attachment bytes \x00\x01\x02\xff end\n' >"$work/attachment.bin"
{
	printf 'From: Alice Sender <alice@%s>\r\nTo: bob@%s\r\nSubject: Quarterly report & <plans>\r\n' "$domain" "$domain"
	printf 'Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
	printf 'Content-Type: multipart/alternative; boundary="YY"\r\n\r\n--YY\r\n'
	printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob,\r\n\r\nthe figures for Q3 are attached. The secret word is marmalade.\r\n\r\nBest,\r\nAlice\r\n'
	printf -- '--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n'
	cat "$here/xss.html"
	printf '\r\n--YY--\r\n--XX\r\nContent-Type: application/octet-stream\r\n'
	printf 'Content-Disposition: attachment; filename="figures-q3.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	base64 "$work/attachment.bin"
	printf '\r\n--XX--\r\n'
} >"$work/mail.eml"

ctl() {
	env POSTERN_BROKER="$broker" POSTERN_CERT="$certs/posternctl.cert" \
		POSTERN_BROKER_CERT="$certs/broker.cert" "$bin/posternctl" "$@"
}
# tally OUTPUT - add a node script's "N passed, N failed" to the totals
total_pass=0 total_fail=0
tally() {
	local last
	last=$(tail -n 1 <<<"$1")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		total_pass=$((total_pass + BASH_REMATCH[1]))
		total_fail=$((total_fail + BASH_REMATCH[2]))
	else
		echo "not ok - a browser script ended without its count"
		total_fail=$((total_fail + 1))
	fi
}
# invitation TO MAIL [ARGS...] - send MAIL with a PIN to TO (and posternctl's
# ARGS); sets pin and link
invitation() {
	local out to=$1 mail=$2
	shift 2
	out=$(ctl send --from "alice@$domain" --to "$to" --pin --mime "$mail" "$@" 2>&1) ||
		fail "posternctl send: $out"
	pin=$(grep -oE "pin=[0-9]+" <<<"$out" | head -n 1 | cut -d= -f2)
	[[ -n $pin ]] || fail "no PIN in: $out"
	link_of "$to"
}
# link_of TO - the link of the invitation the sink got for TO (waits 10 s); sets link
link_of() {
	local i
	link=""
	for ((i = 0; i < 200; i++)); do
		link=$(grep -rlZ "X-Sink-Rcpt-To: <$1>" "$work/mail" 2>/dev/null |
			xargs -0r grep -hoE "$url/m/[A-Za-z0-9_-]{43}" | head -n 1)
		[[ -n $link ]] && break
		sleep 0.05
	done
	[[ -n $link ]] || fail "no invitation arrived for $1"
}

cd "$here" || fail "cd $here"
# BROWSER_ONLY=hostile (make hostile) runs only the hostile corpus below
if [[ ${BROWSER_ONLY:-} != hostile ]]; then
invitation "bob@$domain" "$work/mail.eml"
out=$(BASE="$url" LINK="$link" PIN="$pin" ADDRESS="bob@$domain" \
	ATTACHMENT="$work/attachment.bin" SHOTS="$work/shots" SINK="$work/mail" \
	SENDER="alice@$domain" SENDER_HOME="$work/a" SENDER_PASS=alice-pass node journey.mjs 2>&1)
printf '%s\n' "$out" | sed '$d'
tally "$out"

# a recipient invited in German (german.mjs), with the sender's note
printf 'From: Alice Sender <alice@%s>\r\nTo: dora@%s\r\nSubject: Bericht\r\nDate: Tue, 01 Jul 2025 10:00:00 +0000\r\n\r\nGuten Tag Dora,\r\nanbei der Bericht.\r\n' \
	"$domain" "$domain" >"$work/mail-de.eml"
invitation "dora@$domain" "$work/mail-de.eml" --locale de \
	--note 'Hallo Dora, <script>alert(1)</script> bis bald'
out=$(BASE="$url" LINK="$link" PIN="$pin" ADDRESS="dora@$domain" SHOTS="$work/shots" \
	SINK="$work/mail" node german.mjs 2>&1)
printf '%s\n' "$out" | sed '$d'
tally "$out"

# PIN lock-out across web UI restarts: one phase per process lifetime
invitation "carol@$domain" "$work/mail.eml"
for phase in wrong3 wrong2 right; do
	[[ $phase != wrong3 ]] && restart_webui
	out=$(BASE="$url" LINK="$link" PIN="$pin" SHOTS="$work/shots" STATE="$work/lockout.json" \
		PHASE=$phase node lockout.mjs 2>&1)
	printf '%s\n' "$out" | sed '$d'
	tally "$out"
done
# the recovery code: keep it, forget the password, recover, read (recover.mjs)
invitation "erin@$domain" "$work/mail.eml"
out=$(BASE="$url" LINK="$link" PIN="$pin" ADDRESS="erin@$domain" SHOTS="$work/shots" \
	SINK="$work/mail" SENDER="alice@$domain" node recover.mjs 2>&1)
printf '%s\n' "$out" | sed '$d'
tally "$out"
# rich mail in the message view, with a canary server and Chromium's net log (reading.mjs)
out=$(BASE="$url" SHOTS="$work/shots" SINK="$work/mail" BIN="$bin" BROKER="$broker" CERTS="$certs" \
	SENDER="alice@$domain" RECIPIENT="reader@$domain" node reading.mjs 2>&1)
printf '%s\n' "$out" | sed '$d'
tally "$out"
fi
# the hostile HTML corpus: a quick subset here, all of it with HOSTILE=all
source "$here/hostile.sh"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
