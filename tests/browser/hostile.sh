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
hpin=""
ht0=$SECONDS
for f in $(node -e 'for (const v of require(process.argv[1])) console.log(v.n)' "$hv/index.json") benign; do
	if [[ $f == benign ]]; then
		files=("$hv"/benign-*.eml)
	else
		files=("$hv/$f.eml")
	fi
	for eml in "${files[@]}"; do
		extra=()
		[[ -z $hpin ]] && extra=(--pin)
		if out=$(ctl send --from "alice@$domain" --to "eve@$domain" "${extra[@]}" --mime "$eml" 2>&1); then
			[[ $f != benign ]] && echo "$f" >>"$hv/sent"
			if [[ -z $hpin ]]; then
				hpin=$(grep -oE "pin=[0-9]+" <<<"$out" | head -n 1 | cut -d= -f2)
				[[ -n $hpin ]] || fail "no PIN for the hostile mailbox: $out"
			fi
		else
			[[ $f == benign ]] && fail "a benign mail was refused: $out"
			echo "$f $(tail -n 1 <<<"$out")" >>"$hv/refused"
		fi
	done
done
link_of "eve@$domain"
echo "# hostile: $(wc -l <"$hv/sent") mails accepted, $(wc -l <"$hv/refused") refused by provision (never shown), sent in $((SECONDS - ht0)) s:"
sed 's/^/#   refused /' "$hv/refused"
BASE="$url" LINK="$link" PIN="$hpin" SHOTS="$work/shots" CANARY="$canary" MAILS="$hv" \
	SENT="$hv/sent" BENIGN="$hv/benign.json" RECORD="$hv/requests" \
	NOTICES="$POSTERN_TEST_TMP/logs/browser-hostile-notices.txt" node hostile.mjs 2>&1 |
	tee "$hv/hostile.out" | sed -u '/^[0-9]* passed, [0-9]* failed$/d'
tally "$(cat "$hv/hostile.out")"
# mutated copies of the requests the browser made, over the network (tests/fuzz/http.sh)
source "$root/tests/fuzz/http.sh"
