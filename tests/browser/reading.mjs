// reading.mjs - rich mail in the message view, and what it must not leak.
//
// run.sh gives BASE, SHOTS, SINK, BIN, BROKER, CERTS, SENDER and RECIPIENT.
// This script sends its own mails to RECIPIENT (posternctl), opens the
// mailbox, and reads them in Chromium while a canary HTTP server on
// loopback counts every TCP connection and request, and Chromium writes
// its network log. Host names *.canary.test are mapped to the canary by
// --host-resolver-rules, so nothing leaves this machine; the net log shows
// whether Chromium even looked a name up or opened a socket for it.
//
// Checked: the six preconnect variants (iframe src, frame, loading=lazy,
// SVG foreignObject, nested srcdoc, and the direct /msg/<id>/html view)
// open no connection and resolve no name; no srcdoc and no <meta
// http-equiv> survive at any depth; two cid: logos shown and not listed;
// multipart/alternative shows the HTML alone and the switch shows the
// text; links go to the link page and a link whose text shows another
// host is flagged; a short mail's frame fits it; remote images only after
// the action, only through the web UI's proxy, with no cookie or
// identifying header; the misleading sender and U+202E. A positive control
// at the end (a real visit to control.canary.test) shows that the canary
// and the net log do see a connection when there is one. Screenshots of
// three rich mails: rich-newsletter, rich-signature, rich-thread.
import { Steps, expect, launch } from './steps.mjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const { BASE, SHOTS, SINK, BIN, BROKER, CERTS, SENDER, RECIPIENT } = process.env;
const PASSWORD = 'copper meadow lantern 42';
const run = new Steps(SHOTS, 'reading-');
const step = run.step.bind(run);

// ---- a tiny PNG encoder: solid colour images for logos and remote images ----
function crc32(buf) {
  let crc = ~0;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type), data]);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(w, h, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.alloc(1 + 3 * w);
  for (let x = 0; x < w; x++) { row[1 + 3 * x] = r; row[2 + 3 * x] = g; row[3 + 3 * x] = b; }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(Array(h).fill(row)))),
    chunk('IEND', Buffer.alloc(0))]);
}
const b64 = (buf) => buf.toString('base64').replace(/.{76}/g, '$&\r\n');

// ---- the canary: every connection and request, by phase ----
const canary = { phase: 'setup', conns: [], reqs: [] };
const BANNER = png(600, 120, [40, 110, 200]);
const server = http.createServer((req, res) => {
  canary.reqs.push({ phase: canary.phase, url: req.url, headers: req.headers });
  if (req.url.startsWith('/img/')) {
    res.writeHead(200, { 'Content-Type': 'image/png', 'Set-Cookie': 'tracker=1' });
    res.end(BANNER);
  } else {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<p>canary</p>');
  }
});
server.on('connection', () => canary.conns.push(canary.phase));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const PORT = server.address().port;
const C = (name) => `http://${name}.canary.test:${PORT}`;
const LEAKS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p5b', 'p7', 'p8'];

// ---- the mails ----
const HEAD = (subject, type, from = `Alice Sender <${SENDER}>`) =>
  `From: ${from}\r\nTo: ${RECIPIENT}\r\nSubject: ${subject}\r\n` +
  `Date: Wed, 02 Dec 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n`;
const html = (subject, body, from) => HEAD(subject, 'text/html; charset=utf-8', from) + body + '\r\n';
const alternative = (subject, text, htmlPart) =>
  HEAD(subject, 'multipart/alternative; boundary="alt"') +
  `--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n` +
  `--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${htmlPart}\r\n--alt--\r\n`;

const NEWSLETTER = html('Monthly newsletter', `<html><body style="margin:0;background:#eef1f5">
<table width="100%" cellpadding="0" cellspacing="0" style="background:#eef1f5"><tr><td align="center">
<table width="600" cellpadding="16" cellspacing="0" style="background:#ffffff;font-family:Arial,sans-serif">
<tr><td><img src="http://127.0.0.1:${PORT}/img/banner.png?r=reader-42" width="568" height="114" alt="Banner"></td></tr>
<tr><td><h1 style="color:#1b3d6d;margin:0">December news</h1>
<p style="color:#333">Our offices close on 24 December. Here is what happened this month.</p></td></tr>
<tr><td><table width="100%"><tr>
<td width="50%" valign="top" style="background:#f6f8fa;padding:12px"><h3>New portal</h3><p>Customers can now download invoices themselves.</p><a href="https://portal.example.com/news">Read more</a></td>
<td width="50%" valign="top" style="background:#f6f8fa;padding:12px"><h3>Team</h3><p>We welcome three new colleagues in support.</p><a href="https://www.example.com/team">Meet them</a></td>
</tr></table></td></tr>
<tr><td style="color:#777;font-size:12px">You receive this because you are a customer. <a href="https://www.example.com/unsubscribe?u=42">Unsubscribe</a></td></tr>
</table></td></tr></table></body></html>`);

const LOGO1 = png(120, 36, [20, 90, 170]), LOGO2 = png(36, 36, [230, 120, 20]);
const SIGNATURE = HEAD('Meeting notes with signature', 'multipart/mixed; boundary="mix"') +
  '--mix\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n' +
  '--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPLAIN-VERSION-7731 Hello Reader,\r\nthe notes are attached.\r\n-- \r\nAlice Sender, Example GmbH\r\n' +
  '--alt\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n' +
  '--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n' +
  '<html><body style="font-family:Arial,sans-serif"><p>HTML-VERSION-7731 Hello Reader,</p><p>the notes are attached.</p>' +
  '<table cellpadding="4" style="border-top:2px solid #145aaa;margin-top:24px"><tr>' +
  '<td><img id="logo1" src="cid:logo1@example.com" width="120" height="36" alt="Example GmbH"></td>' +
  '<td><b>Alice Sender</b><br>Head of Accounts<br>Example GmbH &middot; +49 30 1234567</td>' +
  '<td><img id="logo2" src="cid:logo2@example.com" width="36" height="36" alt="Award"></td></tr></table></body></html>\r\n' +
  `--rel\r\nContent-Type: image/png\r\nContent-ID: <logo1@example.com>\r\nContent-Disposition: inline; filename="logo.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(LOGO1)}\r\n` +
  `--rel\r\nContent-Type: image/png\r\nContent-ID: <logo2@example.com>\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(LOGO2)}\r\n` +
  '--rel--\r\n--alt--\r\n' +
  '--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="notes.pdf"\r\n' +
  'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJSBub3RlcwolJUVPRgo=\r\n--mix--\r\n';

let thread = '<html><body style="font-family:Georgia,serif"><p>Agreed, let us go with option B.</p><p>Alice</p>';
for (let i = 12; i >= 1; i--) {
  thread += `<p style="color:#666">On ${i} Nov 2026, ${i % 2 ? 'Bob' : 'Alice'} wrote:</p><blockquote style="border-left:3px solid #ccc;margin-left:8px;padding-left:10px">`;
  thread += `<p>Message ${i} of the thread: we compared the offers again and looked at delivery times, prices and support. ` +
    'The second supplier is cheaper but slower; the first one can deliver before the end of the year.</p>';
}
thread += '</blockquote>'.repeat(12) + '</body></html>';
const THREAD = html('Re: Re: Re: Supplier choice (long thread)', thread);

const SHORT = alternative('Short note', 'Thanks, see you on Monday.', '<p>Thanks, see you on Monday.</p>');
const LINKS = html('Links to check', `<p>Our <a id="plain" href="https://www.example.org/page?a=1&amp;b=2">price list</a>,
<a id="mismatch" href="https://evil.example/login"><b>https://www.bank.example/login</b></a>,
<a id="mail" href="mailto:alice@example.com">write to me</a> and
<a id="js" href="javascript:alert(1)">a script</a>.</p>`);
const PRECONNECT = html('Preconnect canaries', `<p>The canaries below.</p>
<iframe src="${C('p1')}/iframe"></iframe>
<iframe loading="lazy" src="${C('p3')}/lazy" style="margin-top:3000px"></iframe>
<svg width="10" height="10"><foreignObject width="10" height="10"><iframe src="${C('p4')}/svg"></iframe></foreignObject></svg>
<iframe srcdoc="&lt;iframe src='${C('p5')}/nested'&gt;&lt;/iframe&gt;&lt;meta http-equiv='refresh' content='0;url=${C('p5b')}/refresh'&gt;
&lt;iframe srcdoc=&quot;&amp;lt;meta http-equiv=refresh content=0;url=${C('p5b')}/deep&amp;gt;&quot;&gt;&lt;/iframe&gt;"></iframe>
<link rel="preconnect" href="${C('p7')}"><link rel="dns-prefetch" href="//p7.canary.test">
<img src="${C('p8')}/pixel.gif"><iframe src="http://127.0.0.1:${PORT}/ip-iframe"></iframe>`);
const FRAMESET = html('Frameset canary', `<html><head><title>f</title></head><frameset cols="50%,50%">
<frame src="${C('p2')}/frame"><frame src="http://127.0.0.1:${PORT}/ip-frame"></frameset></html>`);
const SPOOF = html('Account \u202Egnp.exe notice', '<p>Please confirm your account.</p>',
  '"security@bank.example" <x@evil.example>');

// ---- sending and the mailbox ----
function ctl(args) {
  const r = spawnSync(path.join(BIN, 'posternctl'), args, {
    env: { ...process.env, POSTERN_BROKER: BROKER, POSTERN_CERT: path.join(CERTS, 'posternctl.cert'),
      POSTERN_BROKER_CERT: path.join(CERTS, 'broker.cert') },
  });
  expect(r.status === 0, `posternctl ${args[0]}: ${r.stderr}`);
  return r.stdout.toString() + r.stderr.toString();
}
function send(mail, pin) {
  const file = path.join(SHOTS, `..`, `reading-${Math.random().toString(36).slice(2)}.eml`);
  fs.writeFileSync(file, mail.replace(/\r?\n/g, '\r\n'));
  const out = ctl(['send', '--from', SENDER, '--to', RECIPIENT, ...(pin ? ['--pin'] : []), '--mime', file]);
  fs.unlinkSync(file);
  return out;
}
async function invitationLink() {
  for (let i = 0; i < 200; i++) {
    for (const f of fs.readdirSync(SINK, { withFileTypes: true })) {
      if (!f.isFile()) continue;
      const t = fs.readFileSync(path.join(SINK, f.name), 'utf8');
      const m = t.includes(`X-Sink-Rcpt-To: <${RECIPIENT}>`) && t.match(new RegExp(`${BASE}/m/[A-Za-z0-9_-]{43}`));
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no invitation');
}
async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
// frameOf - the message's HTML frame (playwright Frame)
async function frameOf(page) {
  const handle = await page.locator('iframe.html-frame').elementHandle();
  const f = await handle.contentFrame();
  await f.waitForLoadState();
  return f;
}

// follow - click the link sel in the message's frame; the top page must go
// to /link?. The frame is sandboxed, so Chromium runs it in a process of its
// own, and an input that arrives before that process has painted its first
// frame is hit-tested against the parent and lost (seen once in CI: the
// click landed, the page stayed). So: wait until the frame has painted
// twice, click, and if the page has not left after 3 s, say so and click
// once more. A link that does not lead to /link fails either way.
async function follow(page, sel) {
  const f = await frameOf(page);
  const link = f.locator(sel);
  await link.waitFor({ state: 'visible' });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await link.click();
  try {
    await page.waitForURL(/\/link\?/, { timeout: 3000 });
  } catch {
    if (/\/link\?/.test(page.url())) return;
    console.log(`# ${sel}: the page did not leave within 3 s of the click; clicking once more`);
    await link.click();
    await page.waitForURL(/\/link\?/);
  }
}

const netlog = path.join(SHOTS, '..', `reading-netlog-${process.pid}.json`);
const browser = await launch([`--log-net-log=${netlog}`,
  `--host-resolver-rules=MAP *.canary.test 127.0.0.1:${PORT}`]);
const ids = {};
let page;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(15000);
  page = await ctx.newPage();
  run.current = page;
  const browserReqs = [];
  ctx.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) browserReqs.push(r.url()); });

  await step('the reader opens the mailbox and finds the eight mails', async () => {
    const out = send(NEWSLETTER, true);
    const pin = (out.match(/pin=([0-9]+)/) || [])[1];
    expect(pin, `no PIN in: ${out}`);
    const link = await invitationLink();
    await page.goto(link);
    await page.getByLabel('PIN').fill(pin);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    // the password is stretched with GnuPG's strong S2K: slow on a busy machine
    await page.getByRole('button', { name: /Set password/ }).click({ timeout: 90000 });
    await page.waitForURL(`${BASE}/recovery-code`, { timeout: 90000 });
    await page.getByRole('link', { name: /go to my inbox/ }).click();
    await page.waitForURL(`${BASE}/inbox`);
    // the rest only now: a mail to a mailbox not yet activated would re-issue its link
    for (const m of [SIGNATURE, THREAD, SHORT, LINKS, PRECONNECT, FRAMESET, SPOOF]) send(m, false);
    for (let i = 0; i < 50 && await page.locator('a.msg').count() < 8; i++) {
      await page.waitForTimeout(200);
      await page.reload();
    }
    expect(await page.locator('a.msg').count() === 8, 'not all eight mails arrived');
    for (const a of await page.locator('a.msg').all()) {
      const subject = await a.locator('.subject').innerText();
      ids[subject] = (await a.getAttribute('href')).replace('/msg/', '');
    }
  });
  if (run.failed) throw new Error('without the mailbox nothing else can be read');

  await step('the inbox shows the real address beside a name that looks like one; U+202E is gone', async () => {
    const row = page.locator('a.msg', { hasText: 'security@bank.example' });
    expect(await row.locator('.from-addr').innerText() === '<x@evil.example>', 'no real address shown');
    const subject = await row.locator('.subject').innerText();
    expect(!subject.includes('\u202E') && subject.includes('gnp.exe'), `subject: ${JSON.stringify(subject)}`);
    await page.goto(`${BASE}/msg/${ids['Account gnp.exe notice']}`);
    const h1 = await page.locator('h1').innerText();
    expect(!h1.includes('\u202E') && !(await page.title()).includes('\u202E'), 'U+202E in the read view');
    expect((await page.content()).includes('x@evil.example'), 'the address is not on the message');
  });

  await step('the preconnect variants and the direct HTML view: no srcdoc, no meta, no frame inside', async () => {
    canary.phase = 'preconnect';
    for (const subject of ['Preconnect canaries', 'Frameset canary']) {
      await page.goto(`${BASE}/msg/${ids[subject]}`);
      const f = await frameOf(page);
      await f.evaluate(() => window.scrollTo(0, 10000));
      await page.mouse.wheel(0, 4000);
      await page.waitForTimeout(1500);
      expect(page.frames().length === 2, `${page.frames().length - 1} frames in the view`);
      for (const fr of page.frames()) {
        const n = await fr.evaluate(() => [document.querySelectorAll('[srcdoc]').length,
          document.querySelectorAll('meta[http-equiv]').length,
          document.querySelectorAll('iframe,frame,frameset,object,embed,portal,link').length]);
        expect(n[0] === 0 && n[1] === 0, `${fr.url()}: ${n[0]} srcdoc, ${n[1]} meta http-equiv`);
        if (fr !== page.mainFrame()) expect(n[2] === 0, `${n[2]} fetching elements in the mail`);
      }
      const raw = await page.evaluate(async (u) => {
        const r = await fetch(u);
        return r.ok && r.url.endsWith('/html') ? r.text() : `status ${r.status} at ${r.url}`;
      }, `${BASE}/msg/${ids[subject]}/html`);
      expect(raw.includes('canaries') || raw.includes('frameset'), `not the document: ${raw.slice(0, 80)}`);
      expect(!/\ssrcdoc\s*=/i.test(raw) && !/<meta[\s/>]/i.test(raw), 'srcdoc or meta in the document');
      expect(!raw.includes('canary.test') && !raw.includes(`127.0.0.1:${PORT}`), 'a canary URL is left');
      // the direct view, top level
      await page.goto(`${BASE}/msg/${ids[subject]}/html`);
      await page.mouse.wheel(0, 4000);
      await page.waitForTimeout(1500);
    }
    await shot(page, 'reading-preconnect-direct');
    expect(canary.conns.filter((p) => p === 'preconnect').length === 0,
      `${canary.conns.filter((p) => p === 'preconnect').length} TCP connections reached the canary`);
  });

  await step('two cid: logos are shown, and neither is listed as an attachment', async () => {
    await page.goto(`${BASE}/msg/${ids['Meeting notes with signature']}`);
    const f = await frameOf(page);
    const imgs = await f.evaluate(() => [...document.images].map((i) =>
      ({ id: i.id, w: i.naturalWidth, data: i.src.startsWith('data:image/png;base64,') })));
    expect(imgs.length === 2 && imgs.every((i) => i.w > 0 && i.data), JSON.stringify(imgs));
    const atts = await page.locator('ul.atts').innerText();
    expect(atts.includes('notes.pdf'), 'the PDF is not listed');
    expect(!/logo|image-/.test(atts), `logos listed: ${atts}`);
    await shot(page, 'rich-signature');
  });

  await step('multipart/alternative shows the HTML alone; the switch shows the text', async () => {
    expect(!(await page.content()).includes('PLAIN-VERSION-7731'), 'the text is shown beside the HTML');
    expect(await page.locator('pre.body').count() === 0, 'a text body is shown');
    const f = await frameOf(page);
    expect((await f.content()).includes('HTML-VERSION-7731'), 'the HTML is not shown');
    await page.getByRole('link', { name: 'Show the plain-text version' }).click();
    await page.locator('pre.body', { hasText: 'PLAIN-VERSION-7731' }).waitFor();
    expect(await page.locator('iframe').count() === 0, 'the HTML is shown beside the text');
    expect((await page.locator('ul.atts').innerText()).includes('image-'), 'the text view lists the logos');
    await page.getByRole('link', { name: 'Show the formatted version' }).click();
    await page.locator('iframe.html-frame').waitFor();
  });

  await step('a link goes to the link page: host, full URL, a button; nothing else', async () => {
    await page.goto(`${BASE}/msg/${ids['Links to check']}`);
    await follow(page, '#plain');
    await page.getByRole('heading', { name: 'You are leaving your secure mailbox' }).waitFor();
    expect(await page.locator('.leave-host').innerText() === 'www.example.org', 'wrong host');
    expect(await page.locator('.leave-url code').innerText() === 'https://www.example.org/page?a=1&b=2', 'wrong URL');
    const go = page.getByRole('link', { name: /Continue to www\.example\.org/ });
    expect(await go.getAttribute('href') === 'https://www.example.org/page?a=1&b=2', 'the button goes elsewhere');
    expect(await page.locator('.alert').count() === 0, 'a plain link is flagged');
    await shot(page, 'reading-link');
  });

  await step('a link whose text shows another host is flagged with the real one', async () => {
    await page.goto(`${BASE}/msg/${ids['Links to check']}`);
    await follow(page, '#mismatch');
    const alert = await page.locator('.alert').innerText();
    expect(alert.includes('www.bank.example') && alert.includes('evil.example'), `alert: ${alert}`);
    expect(await page.locator('.leave-host').innerText() === 'evil.example', 'wrong host');
    await shot(page, 'reading-link-flagged');
    await page.goto(`${BASE}/msg/${ids['Links to check']}`);
    await follow(page, '#js');
    await page.getByRole('heading', { name: 'This link cannot be opened' }).waitFor();
  });

  await step('a short mail leaves no large empty box: the frame fits its content', async () => {
    await page.goto(`${BASE}/msg/${ids['Short note']}`);
    const f = await frameOf(page);
    const content = await f.evaluate(() => {
      const b = document.body.getBoundingClientRect(), s = getComputedStyle(document.body);
      return Math.ceil(b.bottom + parseFloat(s.marginBottom));
    });
    const box = await page.locator('iframe.html-frame').boundingBox();
    console.log(`# short mail: content ${content}px, frame ${Math.round(box.height)}px`);
    expect(box.height >= content, `the frame (${box.height}px) is lower than its content (${content}px)`);
    expect(box.height - content <= 100, `${Math.round(box.height - content)}px of empty box`);
  });

  await step('a long thread is shown at length, not in a small scrolling box', async () => {
    await page.goto(`${BASE}/msg/${ids['Re: Re: Re: Supplier choice (long thread)']}`);
    const f = await frameOf(page);
    const content = await f.evaluate(() => document.documentElement.scrollHeight);
    const box = await page.locator('iframe.html-frame').boundingBox();
    console.log(`# long thread: content ${content}px, frame ${Math.round(box.height)}px`);
    expect(box.height >= 0.8 * content, `frame ${box.height}px for ${content}px of content`);
    await shot(page, 'rich-thread');
  });

  await step('remote images: nothing fetched until asked, then only through the proxy, anonymously', async () => {
    canary.phase = 'before-images';
    await page.goto(`${BASE}/msg/${ids['Monthly newsletter']}`);
    await frameOf(page);
    await page.waitForTimeout(1500);
    expect(canary.conns.filter((p) => p === 'before-images').length === 0, 'the canary was reached before asking');
    await page.getByText('Remote images are blocked to protect your privacy.').waitFor();
    await shot(page, 'reading-newsletter-blocked');
    canary.phase = 'images';
    await page.getByRole('link', { name: 'Show remote images' }).click();
    const f = await frameOf(page);
    const img = await f.evaluate(() => ({ w: document.images[0].naturalWidth, src: document.images[0].src.slice(0, 22) }));
    expect(img.w === 600 && img.src === 'data:image/png;base64,', `image: ${JSON.stringify(img)}`);
    const reqs = canary.reqs.filter((r) => r.phase === 'images');
    expect(reqs.length === 1 && reqs[0].url === '/img/banner.png?r=reader-42', `requests: ${JSON.stringify(reqs.map((r) => r.url))}`);
    const h = reqs[0].headers;
    const bad = Object.keys(h).filter((k) => !['host', 'accept'].includes(k));
    expect(bad.length === 0, `identifying headers: ${bad.map((k) => `${k}: ${h[k]}`).join('; ')}`);
    expect(!h.cookie && !h['user-agent'] && !h.referer, 'cookie, user agent or referer sent');
    expect(browserReqs.length === 0, `the browser itself asked: ${browserReqs.join(', ')}`);
    await shot(page, 'rich-newsletter');
  });

  await step('positive control: a real visit to the canary is seen', async () => {
    canary.phase = 'control';
    await page.goto(`${C('control')}/`);
    await page.getByText('canary').waitFor();
    expect(canary.conns.includes('control'), 'the canary saw no connection');
  });
  await ctx.close();
} catch (e) {
  console.log(`not ok - ${e.message}`);
  run.failed++;
} finally {
  await browser.close();
  server.close();
}

await step('the net log: the control was looked up, no canary of a mail ever was', async () => {
  const log = fs.readFileSync(netlog, 'utf8');
  expect(log.includes('control.canary.test'), 'the net log does not show the control visit');
  const seen = LEAKS.filter((h) => log.includes(`${h}.canary.test`));
  expect(seen.length === 0, `Chromium resolved or connected to: ${seen.join(', ')}`);
  const tcp = canary.conns.filter((p) => p !== 'control' && p !== 'images');
  expect(tcp.length === 0, `${tcp.length} TCP connections outside the control and the proxy`);
  fs.unlinkSync(netlog);
});
run.end();
