#!/usr/bin/env bash
# tests/deploy/kube.sh - the deployment for real: build the images offline,
# play the standalone overlay as pods with `podman kube play`, send a mail
# end to end, survive a broker's death, run the reaper's CronJob once.
#
#   tests/deploy/kube.sh            (make kube-test; root; .ci/run runs it)
#   KUBE_FULL=1 tests/deploy/kube.sh the broker kill mid-stream of 1,000 events
#                                   (default: KUBE_STREAM, 300)
#   KUBE_KEEP=1 tests/deploy/kube.sh leave the pods running for a look
#
# Steps (one ok / not ok line each, last line "N passed, N failed"):
#  1. packages: podman, runc, netavark, iptables, debootstrap (tools/deps --kube)
#  2. the base image from debootstrap (tools/base-image; kept between runs)
#  3. the images: one shared build stage, a runtime stage per service, and
#     Redis and PostgreSQL from Debian's packages (tests/deploy/images)
#  4. each image's binary answers --help inside its image
#  5. Secrets from deploy/k8s/make-secrets.sh --standalone, the overlay
#     rendered and translated for podman (kube-translate.mjs)
#  6. kube play on a private podman network; every /readyz answers 200
#  7. posternctl on the host sends a mail through the two brokers; the
#     invitation arrives at an SMTP sink on the host, and its link opens a
#     session at the web UI's pod
#  8. one broker pod is killed mid-stream of send events (pn-bench from the
#     host through both brokers): nothing lost, nothing doubled, the rate
#     back within 5 s (the figures are printed); the next mail still arrives
#  9. the reaper's CronJob as a one-off pod exits 0
# 10. everything is torn down (also on failure)
#
# Runs podman with tests/deploy/containers.conf (runc, ulimits, netavark),
# leaving /etc/containers alone. Builds run with the host's network (apt
# needs the mirror; the pods' network has no way out). Timings of each
# build go to stderr and to $work/timings.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/deploy
bin=$root/${POSTERN_BUILD:-build}/bin
export CONTAINERS_CONF=$here/containers.conf
work=$root/var/kube
net=postern-kube
tag=0.1.0
base=localhost/postern-base:bookworm
services=(broker keylookup provision mailstore reaper webui gateway)

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
notok() { failed=$((failed + 1)); echo "not ok - $*"; }
finish() {
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
	exit
}
# step NAME CMD... - run CMD quietly (output to $work/log), one line for it
step() {
	local name=$1; shift
	if "$@" >>"$work/log" 2>&1; then ok "$name"; else notok "$name (see $work/log)"; return 1; fi
}
timed() {
	local what=$1 t0=$SECONDS; shift
	"$@" || return 1
	echo "$what $((SECONDS - t0))s" | tee -a "$work/timings" >&2
}
build() {   # build TARGET TAG [FILE]
	nice -n 10 podman build --pull=never --network host -q -f "${3:-$root/deploy/Dockerfile}" \
		--build-arg DEBIAN_IMAGE=$base --build-arg RUNTIME_IMAGE=$base --build-arg BASE=$base \
		--target "$1" -t "$2" "$root" >/dev/null
}

[[ $(id -u) -eq 0 ]] || { notok "needs root (podman kube play with runc, debootstrap)"; finish; }
mkdir -p "$work"
: >"$work/log"
: >"$work/timings"

# -- teardown: also on failure and interruption --------------------------------
sink_pid=
teardown() {
	# what each container said, for a failure's post-mortem
	if [[ -s $work/pods ]]; then
		while read -r pod; do
			# every warning and error of the run, then the last lines
			podman pod logs "$pod" 2>&1 | grep -E 'level=(warn|error)' | tail -100 | sed "s/^/$pod: /"
			podman pod logs --tail 40 "$pod" 2>&1 | sed "s/^/$pod: /"
		done <"$work/pods" >"$work/pods.log" 2>&1
		: >"$work/pods"
	fi
	[[ ${KUBE_KEEP:-0} == 1 ]] && { echo "# KUBE_KEEP=1: pods left running; $0 again cleans up" >&2; return; }
	for f in "$work/jobs.yaml" "$work/play.yaml"; do
		[[ -s $f ]] && podman kube down "$f" >/dev/null 2>&1
	done
	[[ -s $work/volumes ]] && xargs -r podman volume rm -f <"$work/volumes" >/dev/null 2>&1
	podman network rm -f "$net" >/dev/null 2>&1
	[[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null
	rm -rf "$work/secrets"
}
trap 'teardown; exit 130' INT TERM
teardown    # what a killed earlier run left

# -- 1..4: packages, images ------------------------------------------------------
step "packages: podman, runc, netavark, iptables, debootstrap" "$root/tools/deps" --kube || finish
step "node modules for the translation (npm ci, pinned)" \
	sh -c "[ -d '$here/node_modules/js-yaml' ] || (cd '$here' && npm ci --silent --no-audit --no-fund)" || finish
step "host binaries posternctl, smtpsink and pn-bench built" \
	sh -c "[ -x '$bin/posternctl' ] && [ -x '$bin/postern-smtpsink' ] && [ -x '$bin/../bench/pn-bench' ] ||
		make -C '$root' -f Makefile -j\$(nproc) _build _bench-bins" || finish
step "base image $base (debootstrap, no registry)" timed "base image" nice -n 10 "$root/tools/base-image" --tag "$base" || finish
built=()
for s in "${services[@]}"; do
	step "image postern/$s builds offline (deploy/Dockerfile --target $s)" \
		timed "image $s" build "$s" "postern/$s:$tag" && built+=("$s")
done
for s in redis postgres; do
	step "image postern-test/$s from Debian packages" \
		timed "image $s" build "$s" "postern-test/$s:bookworm" "$here/images/Containerfile"
done
for s in "${built[@]}"; do
	step "postern-$s --help runs in its image (every library present)" \
		podman run --rm --network none "postern/$s:$tag" --help
	podman image inspect "postern/$s:$tag" --format "image $s {{.Size}} bytes" >>"$work/timings"
done
[[ $failed -eq 0 ]] || { teardown; finish; }

# -- 5: secrets, render, translate -----------------------------------------------
podman network create "$net" >/dev/null 2>&1
gw=$(podman network inspect "$net" --format '{{range .Subnets}}{{.Gateway}}{{end}}')
smtp_port=2525
images=()
for s in broker keylookup provision mailstore webui reaper gateway; do
	images+=(--image "postern/$s=localhost/postern/$s")
done
step "Secrets (make-secrets.sh --standalone), overlay rendered and translated for podman" sh -c "
	POSTERNCTL='$bin/posternctl' '$root/deploy/k8s/make-secrets.sh' --standalone --certs '$work/certs' \
		-o '$work/secrets.yaml' &&
	node '$here/kube-translate.mjs' --overlay '$root/deploy/k8s/overlays/standalone' \
		--secrets '$work/secrets.yaml' --out '$work' ${images[*]} \
		--image redis=localhost/postern-test/redis:bookworm --image postgres=localhost/postern-test/postgres:bookworm \
		--set POSTERN_SMTP_URL=smtp://$gw:$smtp_port --set POSTERN_SMTP_STARTTLS=off \
		--only '$(printf 'postern-%s,' "${services[@]}")postern-redis,postern-postgres'" || { teardown; finish; }

# -- 6: play, wait for /readyz -----------------------------------------------------
step "podman kube play (the standalone overlay, translated)" \
	podman kube play --network "$net" "$work/play.yaml" || { teardown; finish; }
# The SMTP sink on the host, at the network's gateway address (which exists
# once a pod is on the network); mailstore's outbox retries until it is up.
mkdir -p "$work/mail"
rm -f "$work/mail"/*.eml
"$bin/postern-smtpsink" --listen "$gw:$smtp_port" --dir "$work/mail" >>"$work/log" 2>&1 &
sink_pid=$!

# ip POD - the pod's address on $net
ip() {
	podman inspect "$(podman pod inspect "$1" --format '{{.InfraContainerID}}')" \
		--format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}"
}
# ready POD PORT SECONDS - /readyz answers 200 within SECONDS
ready() {
	local t
	for ((t = 0; t < $3 * 2; t++)); do
		curl -fsS -m 2 -o /dev/null "http://$(ip "$1"):$2/readyz" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
while read -r pod port; do
	step "$pod: /readyz answers" ready "$pod" "$port" 90
done <"$work/health"

# -- 7, 8: a mail end to end, a broker killed --------------------------------------
brokers=$(for p in $(grep '^postern-broker-' "$work/pods"); do printf 'tcp://%s:5555,' "$(ip "$p")"; done)
ctl() {
	POSTERN_BROKER=${brokers%,} POSTERN_CERT=$work/certs/posternctl.cert \
		POSTERN_BROKER_CERT=$work/certs/broker.cert POSTERN_BUS_TIMEOUT_MS=10000 POSTERN_BUS_RETRIES=4 "$bin/posternctl" "$@"
}
# arrived RCPT - an invitation to RCPT at the sink within 60 s
arrived() {
	local t
	for ((t = 0; t < 120; t++)); do
		grep -lq "^X-Sink-Rcpt-To: <$1>" "$work"/mail/*.eml 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
step "posternctl send through the brokers: a new mailbox" \
	sh -c "$(declare -f ctl); brokers='$brokers' work='$work' bin='$bin'; ctl send --from alice@example.com --to bob@example.org --pin --body 'Hi Bob' | grep -q MAILBOX_CREATED"
step "the invitation to bob@example.org reaches the SMTP sink" arrived bob@example.org
# link_opens - the invitation's link (its path, at the web UI pod's address:
# the public URL is not served here) starts a session: the cookie is set and
# the web UI logs it (it asked mailstore for the mailbox through a broker).
# As a recipient would, it tries again after an error page (a 503 while a
# broker or mailstore is still settling), three times over about 20 s; what
# each try saw goes to $work/link.diag, printed with the step's failure.
link_try() {
	local url=$1 code
	code=$(curl -sS -m 15 -o /dev/null -w '%{http_code}' -D "$work/link.headers" "$url") ||
		{ echo "try: curl failed (exit $?)"; return 1; }
	echo "try: HTTP $code, $(grep -ci '^set-cookie: __Host-postern=' "$work/link.headers") session cookie(s)"
	[[ $code == 303 ]] && grep -qi '^set-cookie: __Host-postern=' "$work/link.headers" &&
		podman logs postern-webui-webui 2>&1 | grep -q 'msg="link opened"'
}
link_opens() {
	local mail link try
	: >"$work/link.diag"
	mail=$(grep -l '^X-Sink-Rcpt-To: <bob@example.org>' "$work"/mail/*.eml | head -1) || return 1
	link=$(grep -o 'https\?://[^ ]*/m/[A-Za-z0-9_-]\{43\}' "$mail" | head -1)
	[[ -n $link ]] || { echo "no link in $mail" >>"$work/link.diag"; return 1; }
	for try in 1 2 3; do
		link_try "http://$(ip postern-webui):8080/m/${link##*/m/}" >>"$work/link.diag" 2>&1 && return 0
		sleep 5
	done
	{ echo "the web UI's log:"; podman logs --tail 15 postern-webui-webui 2>&1
	  echo "mailstore's log:"; podman logs --tail 10 postern-mailstore-mailstore 2>&1; } >>"$work/link.diag"
	return 1
}
step "the invitation's link opens a session at the web UI pod" link_opens ||
	cut -c1-300 "$work/link.diag" | sed 's/^/# /'

# The broker's process is killed (kill -9 from the host); its container is
# restarted by its restartPolicy and its pod (and so its name) stays: as in
# Kubernetes, where the dead pod's name answers at once (CoreDNS) until it is
# back. A name podman has dropped is forwarded to the host's resolver, which
# the pods cannot reach: every reconnect would wait out its timeout, and
# zmq_connect resolves names synchronously.
#
# It dies mid-stream: pn-bench sends a stream of send events from the host
# through both brokers (four clients, a new recipient each: a mailbox, a
# guest key from provision's pool, an invitation), and broker 0 is killed
# once 30 % are acknowledged. (One recipient for all would re-issue its
# mailbox at every event, as the next mail to a mailbox never opened does.) Then: lost = events never acknowledged
# (or not stored), doubled = messages stored more than once per event,
# recovery = from the kill until the acknowledgements of one second hold
# half the rate of the five seconds before it, and the longest pause
# between acknowledgements from the kill on; both at most 5 s. A
# STATUS_TEMP answer ("try again": nothing was taken) is retried with the
# same event id, as the publisher contract asks (--retry-temp); the
# retries are in $work/stream.json.
stream=${KUBE_STREAM:-$([[ ${KUBE_FULL:-0} == 1 ]] && echo 1000 || echo 300)}
stream_tag=k$$
stream_kill() {
	local acks=$work/acks t n
	: >"$acks"
	POSTERN_BROKER=${brokers%,} POSTERN_CERT=$work/certs/posternctl.cert \
		POSTERN_BROKER_CERT=$work/certs/broker.cert POSTERN_BUS_TIMEOUT_MS=3000 POSTERN_BUS_RETRIES=6 \
		"$bin/../bench/pn-bench" send --clients 4 --count "$stream" --size 2048 \
		--rcpt "s%d-$stream_tag@example.org" --tag "$stream_tag" --acks "$acks" --retry-temp 3 \
		>"$work/stream.json" &
	local bench=$!
	for ((t = 0; t < 1200; t++)); do
		n=$(wc -l <"$acks")
		((n >= stream * 3 / 10)) && break
		kill -0 $bench 2>/dev/null || break
		sleep 0.25
	done
	kill_ms=$(date +%s%3N)
	# kill -9 of the broker's process from the host, as a crash: its pod
	# stays (restartPolicy Always brings the container back, as the kubelet
	# would), and so does its name. "podman stop" would be an operator's
	# stop: no restart, and the pod, its infra and its name go with it.
	kill -9 "$(podman inspect postern-broker-0-broker --format '{{.State.Pid}}')" || return 1
	echo "# broker 0 killed after $n of $stream events acknowledged (at $kill_ms ms)"
	wait $bench
	cat "$work/stream.json"
}
# psql in the PostgreSQL pod (the password from its Secret file)
pg_query() {
	podman exec postern-postgres-postgres sh -c \
		'PGPASSWORD=$(cat /etc/postgres/password) psql -h 127.0.0.1 -U postern -d postern -tA -c "$1"' sh "$1"
}
# stream_figures - lost, doubled, recovery from the acks and the database
stream_figures() {
	local stored distinct
	stored=$(pg_query "SELECT count(*) FROM messages WHERE event_id LIKE 'bench-$stream_tag-%'") || return 1
	distinct=$(pg_query "SELECT count(DISTINCT event_id) FROM messages WHERE event_id LIKE 'bench-$stream_tag-%'") || return 1
	sort -n "$work/acks" | awk -v kill="$kill_ms" -v n="$stream" -v stored="$stored" -v distinct="$distinct" '
		{ t[NR] = $1; seen[$2] = 1 }
		END {
			for (i = 0; i < n; i++) if (!seen[i]) unacked++
			for (i = 1; i <= NR; i++) if (t[i] < kill) { k = i; if (t[i] >= kill - 5000) before++ }
			want = before / 5 / 2       # acks per second: half the rate before
			# recovered: the first trailing second (of acks after the kill) that
			# holds at least that; the pause below bounds the outage itself
			rec = -1; lo = k + 1
			for (i = k + 1; i <= NR && rec < 0; i++) {
				while (t[lo] <= t[i] - 1000) lo++
				if (i - lo + 1 >= want) rec = t[i] - kill
			}
			pause = -1      # the longest gap between acks from the kill on
			for (i = (k ? k : 1); i < NR; i++) if (t[i + 1] - t[i] > pause) pause = t[i + 1] - t[i]
			printf "# stream of %d events, broker 0 killed after %d: lost %d (never acknowledged %d, " \
			    "not stored %d), doubled %d, longest pause %d ms, rate before %.1f/s, back to half " \
			    "of it %d ms after the kill\n", n, k, n - distinct, unacked + 0, n - distinct,
			    stored - distinct, pause, before / 5, rec
			exit !(unacked == 0 && distinct == n && stored == n && rec >= 0 && rec <= 5000 &&
			    pause <= 5000)
		}'
}
step "broker postern-broker-0 killed (SIGKILL) mid-stream of $stream send events" stream_kill
stream_figures | tee -a "$work/timings"
if [[ ${PIPESTATUS[0]} -eq 0 ]]; then
	ok "nothing lost, nothing doubled, the rate back within 5 s, no pause over 5 s"
else
	notok "nothing lost, nothing doubled, the rate back within 5 s, no pause over 5 s (figures above; $work/acks)"
fi
carol_ms=$(date +%s%3N)
step "after the kill: a mail to carol@example.org is accepted" \
	sh -c "$(declare -f ctl); brokers='$brokers' work='$work' bin='$bin'; ctl send --from alice@example.com --to carol@example.org --pin --body 'Hi Carol' | grep -q MAILBOX_CREATED"
step "after the kill: the invitation to carol@example.org arrives" arrived carol@example.org
echo "# after the kill: carol's mail sent -> her invitation at the sink: $((($(date +%s%3N) - carol_ms) / 1000)) s" | tee -a "$work/timings"
step "exactly one invitation each to bob and carol (nothing lost, nothing doubled)" \
	sh -c "[ \$(grep -l '^X-Sink-Rcpt-To: <bob@example.org>' '$work'/mail/*.eml | wc -l) = 1 ] &&
		[ \$(grep -l '^X-Sink-Rcpt-To: <carol@example.org>' '$work'/mail/*.eml | wc -l) = 1 ]"

# -- 9: the reaper's CronJob once ------------------------------------------------------
# As its Job would: a pod that fails is replaced, up to backoffLimit (2) times.
reaper_once() {
	local c=postern-reaper-once-reaper t try
	for try in 1 2 3; do
		podman kube down "$work/jobs.yaml" >/dev/null 2>&1
		podman kube play --network "$net" "$work/jobs.yaml" >/dev/null || return 1
		for ((t = 0; t < 120; t++)); do
			[[ $(podman inspect "$c" --format '{{.State.Status}}') == exited ]] && break
			sleep 0.5
		done
		podman logs "$c" 2>&1 | tail -40
		if [[ $(podman inspect "$c" --format '{{.State.Status}} {{.State.ExitCode}}') == "exited 0" ]]; then
			echo "# the reaper's one-off pod exited 0 at try $try" | tee -a "$work/timings"
			return 0
		fi
	done
	return 1
}
step "the reaper's CronJob as a one-off pod (--once) exits 0 (within its Job's backoffLimit)" reaper_once

# -- 10 --------------------------------------------------------------------------------
teardown
step "torn down: no pod of the play is left" sh -c "! podman pod exists postern-broker-0"
finish
