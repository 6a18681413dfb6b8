# http.sh - sourced by tests/browser/hostile.sh: mutated HTTP requests
# over the network to the running web UI (ASan-built under SANITIZE=1).
#
# The requests are the ones Chromium just made through the hostile corpus
# (hostile.mjs recorded them, session cookie and CSRF token included) and
# the hand-made probes in tests/fuzz/http/ (the long and slash-heavy URIs
# of CVE-2025-55763, broken request lines, bodies longer and shorter than
# their Content-Length). FUZZ_HTTP_N requests (2,000 in make test,
# 100,000 with make fuzz-http) cycle through them; Debian's zzuf flips
# bits in all of them at once, in ten chunks with seeds FUZZ_HTTP_SEED+i
# and ratios from 0.05 % to 2 % (FUZZ_HTTP_CONC connections at a time,
# 4); the probes also go once unmutated. Then
# the web UI must still be the same process, ready, answer a plain GET,
# and have logged no sanitizer report.
# Uses run.sh's $work, $web, $webui_pid, $total_pass, $total_fail.
hn=${FUZZ_HTTP_N:-2000}
hseed=${FUZZ_HTTP_SEED:-$((RANDOM * 32768 + RANDOM))}
hdir=$work/http
mkdir -p "$hdir"
shopt -s nullglob
hrec=("$hv"/requests/*.http)
hreqs=("${hrec[@]}" "$root"/tests/fuzz/http/*.http)
echo "# fuzz-http: $hn requests from ${#hreqs[@]} recorded or hand-made ones, zzuf seed $hseed (FUZZ_HTTP_SEED=$hseed repeats it)"
hok() { echo "ok - fuzz-http: $*"; total_pass=$((total_pass + 1)); }
hnot() { echo "not ok - fuzz-http: $*"; total_fail=$((total_fail + 1)); }
command -v zzuf >/dev/null || hnot "zzuf is not installed (tools/deps installs it)"
[[ ${#hrec[@]} -ge 10 ]] && hok "${#hrec[@]} requests recorded from the browser" ||
	hnot "only ${#hrec[@]} requests recorded from the browser"
hlog=$POSTERN_TEST_TMP/logs/browser-webui.log
# the probes as they are
hprobes=("$root"/tests/fuzz/http/*.http)
node "$root/tests/fuzz/http-send.mjs" --build "$hdir/probes" 0 "${#hprobes[@]}" "${hprobes[@]}"
hstat=$(node "$root/tests/fuzz/http-send.mjs" 127.0.0.1 "$web" "$hdir/probes" "$hdir/probes.len" 2)
echo "# fuzz-http: probes unmutated: $hstat"
# the mutated ones, in ten chunks
hchunk=$(((hn + 9) / 10))
hsum=""
for ((c = 0; c < 10; c++)); do
	hcount=$((hn - c * hchunk < hchunk ? hn - c * hchunk : hchunk))
	[[ $hcount -gt 0 ]] || continue
	node "$root/tests/fuzz/http-send.mjs" --build "$hdir/plain" $((c * hchunk)) "$hcount" "${hreqs[@]}" ||
		{ hnot "cannot build the requests"; break; }
	zzuf -s $((hseed + c)) -r 0.0005:0.02 cat "$hdir/plain" >"$hdir/mutated" 2>/dev/null ||
		{ hnot "zzuf failed"; break; }
	hone=$(node "$root/tests/fuzz/http-send.mjs" 127.0.0.1 "$web" "$hdir/mutated" "$hdir/plain.len" \
		"${FUZZ_HTTP_CONC:-4}")
	echo "# fuzz-http: chunk $((c + 1))/10 (seed $((hseed + c))): $hone"
	hsum+=$hone$'\n'
done
echo "# fuzz-http: $(node -e '
	const t = { sent: 0, answered: {}, closed: 0, timeout: 0, refused: 0, error: 0 };
	for (const l of require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)) {
		const s = JSON.parse(l);
		for (const k of ["sent", "closed", "timeout", "refused", "error"]) t[k] += s[k];
		for (const [k, v] of Object.entries(s.answered)) t.answered[k] = (t.answered[k] || 0) + v;
	}
	console.log(JSON.stringify(t));' <<<"$hsum")"
hsent=$(node -e 'let n=0; for (const l of require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)) n += JSON.parse(l).sent; console.log(n)' <<<"$hsum")
hrefused=$(grep -o '"refused":[0-9]*' <<<"$hsum$hstat" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
[[ $hsent -ge $hn ]] && hok "$hsent mutated requests sent" || hnot "only $hsent of $hn requests were sent"
[[ $hrefused -eq 0 ]] && hok "the web UI never refused a connection" || hnot "$hrefused connections refused: the web UI went away"
kill -0 "$webui_pid" 2>/dev/null && hok "the web UI is the same process" || hnot "the web UI died"
hcode=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$web/login")
[[ $hcode == 200 ]] && hok "GET /login still answers 200" || hnot "GET /login answers $hcode"
if grep -qaE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$hlog"; then
	hnot "sanitizer report in $hlog"
	grep -aA30 -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$hlog" | head -40 | sed 's/^/#   /'
else
	hok "no sanitizer report in the web UI's log"
fi
