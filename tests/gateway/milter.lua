-- milter.lua - the gateway's milter protocol, driven by Debian's miltertest
-- (an independent MTA side of libmilter's protocol).
--
--   miltertest -s tests/gateway/milter.lua -D port=N -D scenario=NAME \
--     -D sender=A -D guest=B -D internal=C -D keyuser=D -D tag=T -D token=K
--
-- One scenario per run; the script fails (error, exit status non-zero)
-- at the first answer that is not the expected one. A refusal is seen
-- here as SMFIR_REPLYCODE only: miltertest's MT_SMTPREPLY check does not
-- work in this version, so the codes themselves are checked through the
-- gateway's decision log and, end to end, at a real Postfix. tests/it/gateway_test.c
-- runs each scenario and then looks at what Postern stored and mailed.

local function check(cond, what)
	if not cond then
		-- miltertest does not print a script's error: say it first
		mt.echo("milter.lua: " .. scenario .. ": " .. what)
		error(scenario .. ": " .. what)
	end
end

local function open()
	mt.set_timeout(120)
	local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 40, 0.25)
	check(conn ~= nil, "cannot connect to the milter")
	check(mt.conninfo(conn, "mta.test", "127.0.0.1") == nil, "conninfo failed")
	check(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
	return conn
end

local function envelope(conn, from, rcpts)
	mt.macro(conn, SMFIC_MAIL, "i", "Q" .. scenario)
	check(mt.mailfrom(conn, from) == nil, "mailfrom failed")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		return false
	end
	for _, r in ipairs(rcpts) do
		check(mt.rcptto(conn, r) == nil, "rcptto failed")
		check(mt.getreply(conn) == SMFIR_CONTINUE, "rcpt " .. r .. " not continued")
	end
	return true
end

local function headers(conn, list)
	for _, h in ipairs(list) do
		check(mt.header(conn, h[1], h[2]) == nil, "header " .. h[1] .. " failed")
		check(mt.getreply(conn) == SMFIR_CONTINUE, "header " .. h[1] .. " not continued")
	end
	check(mt.eoh(conn) == nil, "eoh failed")
	return mt.getreply(conn)
end

local function body(conn, text)
	check(mt.bodystring(conn, text) == nil, "body failed")
	check(mt.getreply(conn) == SMFIR_CONTINUE, "body not continued")
	check(mt.eom(conn) == nil, "eom failed")
	return mt.getreply(conn)
end

local function std_headers(subject, extra)
	local h = {
		{ "From", "Alice Sender <" .. sender .. ">" },
		{ "To", guest },
		{ "Subject", subject },
		{ "Date", "Tue, 01 Jul 2025 10:00:00 +0000" },
		{ "Message-ID", "<" .. scenario .. "." .. tag .. "@gateway.test>" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=utf-8" },
	}
	for _, x in ipairs(extra or {}) do
		table.insert(h, x)
	end
	return h
end

local text = "Hello,\r\nthe figures: " .. token .. "\r\n"
local conn = open()

-- header_taken - a mail to a guest and a colleague with one Postern header:
-- the guest is handed to provision and taken off, and so is the header
local function header_taken(subject, name, value)
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">", "<" .. internal .. ">" })
	check(headers(conn, std_headers(subject, { { name, value } })) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_CONTINUE, "eom answer is not continue")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. guest .. ">"), "guest not deleted")
	check(mt.eom_check(conn, MT_HDRCHANGE, name), name .. " header not removed")
end

if scenario == "tag" then
	-- subject tag, one guest and one internal recipient
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">", "<" .. internal .. ">" })
	check(headers(conn, std_headers("[SECURE] Quarterly figures")) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_CONTINUE, "eom answer is not continue")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. guest .. ">"), "guest not deleted")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<" .. internal .. ">"), "internal deleted")
	check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "Quarterly figures"), "tag not removed")
elseif scenario == "header_pin" then
	-- trigger and PIN by header, external recipients only: nothing left to deliver
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("Contract", {
		{ "X-Postern-Encrypt", "yes" }, { "X-Postern-PIN", "Yes" } })) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_DISCARD, "eom answer is not discard")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. guest .. ">"), "guest not deleted")
elseif scenario == "note" then
	-- the sender's note by header: handed to provision, taken out of the mail
	header_taken("[secure] With a note", "X-Postern-Note",
		"See you on =?utf-8?q?Gr=C3=BCnday?= <b>soon</b>")
elseif scenario == "expires" then
	-- an expiry by header: handed to provision, taken out of the mail
	header_taken("[secure] For a week", "X-Postern-Expires", " 7d")
elseif scenario == "expires_bad" then
	-- an expiry that is not a strict duration: refused, nothing stored
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("[secure] Soon", {
		{ "X-Postern-Expires", "7 days" } })) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_REPLYCODE, "eom answer is not a reply code")
elseif scenario == "receipts" then
	-- the sender asks for receipts by header: handed to provision, taken out of the mail
	header_taken("[secure] With receipts", "X-Postern-Receipts", "yes")
elseif scenario == "none" then
	-- no trigger: accepted after the headers, the body is never seen
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("Lunch?", { { "X-Postern-Encrypt", "no" } })) == SMFIR_ACCEPT,
		"untriggered mail not accepted after the headers")
elseif scenario == "null_sender" then
	-- a bounce is never for Postern, whatever its subject
	check(not envelope(conn, "<>", {}), "null sender continued")
	check(mt.getreply(conn) == SMFIR_ACCEPT, "null sender not accepted")
elseif scenario == "local" then
	-- triggered, but every recipient is internal: the mark goes, nothing else
	envelope(conn, "<" .. sender .. ">", { "<" .. internal .. ">" })
	check(headers(conn, std_headers("Plans [secure] [pin]")) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_CONTINUE, "eom answer is not continue")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<" .. internal .. ">"), "internal deleted")
	check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "Plans"), "tags not removed")
elseif scenario == "mixed" then
	-- internal, a key holder and a guest: both externals go to Postern
	envelope(conn, "<" .. sender .. ">",
		{ "<" .. internal .. ">", "<" .. keyuser .. ">", "<" .. guest .. ">" })
	check(headers(conn, std_headers("[secure] Mixed")) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_CONTINUE, "eom answer is not continue")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. keyuser .. ">"), "key holder not deleted")
	check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. guest .. ">"), "guest not deleted")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<" .. internal .. ">"), "internal deleted")
elseif scenario == "oversize" then
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("[secure] Big")) == SMFIR_CONTINUE, "eoh")
	check(mt.bodyrandom(conn, 80000) == nil, "body failed")
	check(mt.eom(conn) == nil, "eom failed")
	check(mt.getreply(conn) == SMFIR_REPLYCODE, "oversize not refused")
elseif scenario == "malformed" then
	-- no From header: provision refuses the mail itself
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, { { "Subject", "[secure] no from" }, { "To", guest } }) == SMFIR_CONTINUE,
		"eoh")
	check(body(conn, text) == SMFIR_REPLYCODE, "malformed mail not refused")
elseif scenario == "invalid" then
	-- the only recipient is not an address Postern accepts
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("[secure] To nobody")) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_REPLYCODE, "invalid recipient not refused")
elseif scenario == "down" then
	-- provision is stopped: the MTA must keep the mail
	envelope(conn, "<" .. sender .. ">", { "<" .. guest .. ">" })
	check(headers(conn, std_headers("[secure] Later")) == SMFIR_CONTINUE, "eoh")
	check(body(conn, text) == SMFIR_REPLYCODE, "no tempfail while Postern is down")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<" .. guest .. ">"), "deleted while down")
else
	error("unknown scenario " .. scenario)
end

mt.disconnect(conn)
