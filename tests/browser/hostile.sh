# hostile.sh - sourced by run.sh after the journey: the hostile HTML corpus
# (hostile/vectors.jsonl, hostile.mjs) against the same stack. Every vector
# is sent as a real mail through posternctl to one new mailbox; what
# provision refuses never reaches a reader and is listed. HOSTILE=all
# sends all of them (make hostile), otherwise a quick subset (make test).
# Uses run.sh's ctl, link_of, tally, fail, port, $work, $domain, $url.
hv=$work/hv
hmode=quick
[[ ${HOSTILE:-} == all ]] && hmode=""
node "$here/hostile/mails.mjs" "$hv" "alice@$domain" "eve@$domain" $hmode || fail "hostile/mails.mjs"
canary=$(port)
node "$here/hostile/canary.mjs" "$canary" 2>"$POSTERN_TEST_TMP/logs/browser-canary.log" &
pids+=($!)
: >"$hv/sent"
: >"$hv/refused"
: >"$hv/hostile.out"
hpin=""
ht0=$SECONDS
# hsend EML N - one mail to eve; N (the vector's number, or "benign") files it as sent or refused
hsend() {
	local out extra=()
	[[ -z $hpin ]] && extra=(--pin)
	if out=$(ctl send --from "alice@$domain" --to "eve@$domain" "${extra[@]}" --mime "$1" 2>&1); then
		[[ $2 != benign ]] && echo "$2" >>"$hv/sent"
		if [[ -z $hpin ]]; then
			hpin=$(grep -oE "pin=[0-9]+" <<<"$out" | head -n 1 | cut -d= -f2)
			[[ -n $hpin ]] || fail "no PIN for the hostile mailbox: $out"
		fi
	else
		[[ $2 == benign ]] && fail "a benign mail was refused: $out"
		echo "$2 $(tail -n 1 <<<"$out")" >>"$hv/refused"
	fi
}
# hostile PHASE - run hostile.mjs (activate: PIN, password, keep the session; view: the rest)
hostile() {
	BASE="$url" LINK="$link" PIN="$hpin" SHOTS="$work/shots" CANARY="$canary" MAILS="$hv" \
		SENT="$hv/sent" BENIGN="$hv/benign.json" RECORD="$hv/requests" PHASE=$1 STATE="$hv/state.json" \
		NOTICES="$POSTERN_TEST_TMP/logs/browser-hostile-notices.txt" node hostile.mjs 2>&1 |
		tee -a "$hv/hostile.out" | sed -u '/^[0-9]* passed, [0-9]* failed$/d'
	tally "$(tail -n 1 "$hv/hostile.out")"
}
# the first mail creates the mailbox, which is activated at once: every later mail to a
# mailbox not yet activated would re-issue it (a new link and PIN each time)
hvec=($(node -e 'for (const v of require(process.argv[1])) console.log(v.n)' "$hv/index.json"))
hsend "$hv/${hvec[0]}.eml" "${hvec[0]}"
link_of "eve@$domain"
hostile activate
for f in "${hvec[@]:1}"; do
	hsend "$hv/$f.eml" "$f"
done
for eml in "$hv"/benign-*.eml; do
	hsend "$eml" benign
done
echo "# hostile: $(wc -l <"$hv/sent") mails accepted, $(wc -l <"$hv/refused") refused by provision (never shown), sent in $((SECONDS - ht0)) s:"
sed 's/^/#   refused /' "$hv/refused"
hostile view

# mutated copies of the requests the browser made, over the network (tests/fuzz/http.sh)
source "$root/tests/fuzz/http.sh"
