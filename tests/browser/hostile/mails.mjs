// mails.mjs - every vector of vectors.jsonl as a real mail (RFC 5322,
// CRLF), for run.sh to send through posternctl one by one.
//
//   node mails.mjs DIR FROM TO [quick]
//
// writes DIR/NNNN.eml, DIR/benign-N.eml (benign.json), DIR/index.json ([{ n, id, source, title, file,
// expect }]). quick: every 10th public vector and every 2nd of ours. An
// HTML vector is the text/html part (base64, UTF-8) beside a text/plain
// part naming it; header vectors go into Subject, From's display name,
// To or Date; "mime" vectors are the structures below. Every Subject
// starts with "hv NNNN" except the Subject vectors themselves.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [dir, from, to, quick] = process.argv.slice(2);
const vectors = fs.readFileSync(path.join(here, 'vectors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const CRLF = '\r\n';
const b64 = (s) => Buffer.from(s, typeof s === 'string' ? 'utf8' : undefined).toString('base64').replace(/.{76}/g, '$&\r\n');
// enc - header text as one RFC 2047 encoded-word when it is not plain ASCII
const enc = (s) => (/^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?b?${Buffer.from(s).toString('base64')}?=`);
const GIF = 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';

function part(type, body, extra = '') {
  return `Content-Type: ${type}${CRLF}${extra}Content-Transfer-Encoding: base64${CRLF}${CRLF}${b64(body)}${CRLF}`;
}
function multipart(type, parts, boundary) {
  return { type: `${type}; boundary="${boundary}"`, body: parts.map((p) => `--${boundary}${CRLF}${p}`).join('') + `--${boundary}--${CRLF}` };
}
function alternative(n, html, label) {
  return multipart('multipart/alternative', [
    part('text/plain; charset=utf-8', `Hostile vector ${n} (${label}).\n`),
    part('text/html; charset=utf-8', html),
  ], `alt-${n}`);
}

// the "mime" structures of mail-vectors.json
const STRUCT = {
  'related-cid': (n) => multipart('multipart/related', [
    part('text/html; charset=utf-8', '<p>Inline logo: <img src="cid:logo@evil.test" onerror="top.__pwned=1"></p>'),
    part('image/gif', Buffer.from(GIF, 'base64'), `Content-ID: <logo@evil.test>${CRLF}`),
  ], `rel-${n}`),
  'related-cid-html': (n) => multipart('multipart/related', [
    part('text/html; charset=utf-8', '<iframe src="cid:inner@evil.test"></iframe><object data="cid:inner@evil.test"></object>'),
    part('text/html; charset=utf-8', '<script>top.__pwned=1</script>', `Content-ID: <inner@evil.test>${CRLF}`),
  ], `rel-${n}`),
  'related-location': (n) => multipart('multipart/related', [
    part('text/html; charset=utf-8', '<img src="http://evil.test/loc.gif"><a href="x.html">x</a>', `Content-Location: http://evil.test/${CRLF}`),
    part('image/gif', Buffer.from(GIF, 'base64'), `Content-Location: javascript:top.__pwned=1${CRLF}`),
  ], `rel-${n}`),
  'utf7': () => ({ type: 'text/html; charset=utf-7', body: '+ADw-script+AD4-top.__pwned=1+ADw-/script+AD4-+ADw-img src=x onerror=top.__pwned=2+AD4-' }),
  'iso2022': () => ({ type: 'text/html; charset=iso-2022-jp', body: '<img src="x\x1b(J" onerror="top.__pwned=1" \x1b(B><a href="\x1b$@">x</a>' }),
  'imap-utf7': () => ({ type: 'text/html; charset=x-imap4-modified-utf7', body: '&ADw-script&AD4-top.__pwned=1&ADw-/script&AD4-' }),
  'unknown-charset': () => ({ type: 'text/html; charset=x-no-such-charset', body: Buffer.from('<p>\xfe\xff<script>top.__pwned=1</script>\xc0\xbcimg src=x onerror=alert(1)\xc0\xbe</p>', 'latin1') }),
  'utf16': () => ({ type: 'text/html; charset=utf-16le', body: Buffer.from('<script>top.__pwned=1</script><img src=http://evil.test/u16.png>', 'utf16le') }),
  'qp-split': () => ({ type: 'text/html; charset=utf-8', cte: 'quoted-printable', raw: '<img src=3Dx on=\r\nerror=3D"top.__pwned=3D1"><scr=\r\nipt>top.__pwned=3D2</scr=\r\nipt>\r\n' }),
  'b64-html': () => ({ type: 'text/html; charset=utf-8', body: '<script>top.__pwned=1</script><img src="http://evil.test/b64.png">' }),
  'alt-order': (n) => multipart('multipart/alternative', [
    part('text/html; charset=utf-8', '<img src="http://evil.test/alt1.png"><script>top.__pwned=1</script>'),
    part('text/plain; charset=utf-8', 'plain after html\n'),
    part('text/html; charset=utf-8', '<img src="http://evil.test/alt2.png" onerror="top.__pwned=2">'),
  ], `alt-${n}`),
  'html-attachment': (n) => multipart('multipart/mixed', [
    part('text/plain; charset=utf-8', 'See the attached page.\n'),
    part('text/html; charset=utf-8', '<script>top.__pwned=1</script><meta http-equiv="refresh" content="0;url=http://evil.test/att">', `Content-Disposition: attachment; filename="invoice.html"${CRLF}`),
  ], `mix-${n}`),
  'rfc822-html': (n) => multipart('multipart/mixed', [
    part('text/plain; charset=utf-8', 'Forwarded.\n'),
    `Content-Type: message/rfc822${CRLF}${CRLF}From: inner@evil.test${CRLF}Subject: <img src=x onerror=alert(1)>${CRLF}MIME-Version: 1.0${CRLF}Content-Type: text/html${CRLF}${CRLF}<script>top.__pwned=1</script><img src="http://evil.test/inner.png">${CRLF}`,
  ], `mix-${n}`),
  'svg-attachment': (n) => multipart('multipart/mixed', [
    part('text/plain; charset=utf-8', 'A drawing.\n'),
    part('image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg" onload="top.__pwned=1"><script>top.__pwned=2</script></svg>', `Content-Disposition: inline; filename="draw.svg"${CRLF}`),
  ], `mix-${n}`),
  'attachment-name': (n) => multipart('multipart/mixed', [
    part('text/plain; charset=utf-8', 'Files.\n'),
    part('application/octet-stream', 'x', `Content-Disposition: attachment; filename="<img src=x onerror=alert(1)>.pdf"${CRLF}`),
    part('application/octet-stream', 'y', `Content-Disposition: attachment; filename*=utf-8''..%2F..%2F%E2%80%AEfdp.exe%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E${CRLF}`),
  ], `mix-${n}`),
};

function deep() {
  return '<div>'.repeat(5000) + 'deep' + '</div>'.repeat(5000);
}

fs.mkdirSync(dir, { recursive: true });
const index = [];
let pub = 0, ours = 0;
vectors.forEach((v, i) => {
  const n = String(i + 1).padStart(4, '0');
  if (quick) {
    if (v.source === 'Postern' ? ours++ % 2 : pub++ % 10) return;
  }
  const label = `${v.source} ${v.id}`;
  let subject = `hv ${n} ${v.source} ${v.id}`;
  let fromLine = `Hostile Sender <${from}>`;
  let toLine = to;
  let date = 'Tue, 01 Jul 2025 10:00:00 +0000';
  let body;
  if (v.subject !== undefined) subject = enc(v.subject);
  if (v.subject_raw !== undefined) subject = v.subject_raw;
  if (v.from_name !== undefined) fromLine = `${enc(v.from_name)} <${from}>`;
  if (v.from_name_raw !== undefined) fromLine = v.from_name_raw.replace(/evil@evil\.test/, from);
  if (v.to_raw !== undefined) toLine = v.to_raw.replace('bob@example.net', to);
  if (v.date_raw !== undefined) date = v.date_raw;
  if (v.mime) body = STRUCT[v.mime](n);
  else if (v.html === 'DEEP') body = alternative(n, deep(), label);
  else if (v.html !== undefined) body = alternative(n, v.html, label);
  else body = alternative(n, `<p>Header vector ${n}: the hostile text is in the headers.</p>`, label);
  let content;
  if (body.raw !== undefined)
    content = `Content-Type: ${body.type}${CRLF}Content-Transfer-Encoding: ${body.cte}${CRLF}${CRLF}${body.raw}`;
  else if (body.type.startsWith('multipart/'))
    content = `Content-Type: ${body.type}${CRLF}${CRLF}${body.body}`;
  else
    content = `Content-Type: ${body.type}${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${b64(body.body)}${CRLF}`;
  const mail = [
    `From: ${fromLine}`, `To: ${toLine}`, `Subject: ${subject}`, `Date: ${date}`,
    `Message-ID: <hv-${n}@hostile.test>`, 'MIME-Version: 1.0',
  ].join(CRLF) + CRLF + content;
  const file = `${n}.eml`;
  fs.writeFileSync(path.join(dir, file), mail);
  index.push({ n, id: v.id, source: v.source, title: v.title, file, header: v.html === undefined && !v.mime });
});
fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));

// benign rich mails (benign.json), which must still render legibly
const benign = JSON.parse(fs.readFileSync(path.join(here, 'benign.json'), 'utf8'));
benign.forEach((b, i) => {
  const body = alternative(`b${i + 1}`, b.html, 'benign');
  fs.writeFileSync(path.join(dir, `benign-${i + 1}.eml`), [
    `From: Hostile Sender <${from}>`, `To: ${to}`, `Subject: benign ${i + 1}: ${b.name}`,
    'Date: Tue, 01 Jul 2025 10:00:00 +0000', `Message-ID: <benign-${i + 1}@hostile.test>`, 'MIME-Version: 1.0',
  ].join(CRLF) + CRLF + `Content-Type: ${body.type}${CRLF}${CRLF}${body.body}`);
});
fs.writeFileSync(path.join(dir, 'benign.json'), JSON.stringify(benign));
console.log(`${index.length} hostile mails, ${benign.length} benign`);
