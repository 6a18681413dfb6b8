// hostile.mjs - the hostile HTML corpus (hostile/vectors.jsonl), each
// vector a real mail in one mailbox, viewed in headless Chromium.
//
// From run.sh: BASE, LINK, PIN, SHOTS, CANARY (port of the loopback
// canary), MAILS (the directory hostile/mails.mjs wrote: index.json) and
// SENT (the vector numbers provision accepted, in the order sent; a
// refused mail never reached a reader). Chromium resolves every host
// name to the canary (--host-resolver-rules), so a request that slipped
// past everything else would still arrive there and be counted; besides,
// every request for another origin is recorded and aborted, and the
// canary's count is read at the end.
//
// For each page (every folder page, every message and its sandboxed
// frame) it records dialogs, console output of the page's own scripts,
// uncaught errors, navigations of the page or the frame, popups, requests
// outside BASE and the window.__pwned marker. Zero of each is the bar.
// The browser's own notices that it blocked something (CSP, sandbox) are
// counted apart and written to NOTICES: they are the defence working. Benign rich mails (the
// BENIGN list, sent last) must still render legibly: their text visible
// in the frame with its styling and tables laid out.
//
// Two runs (PHASE): activate opens the mailbox after its first mail and
// keeps the session (a later mail to a mailbox not yet activated would
// re-issue it); view reads everything with that session.
//
// Last line "N passed, N failed": one check per vector, plus the totals.
import { Steps, expect } from './steps.mjs';
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const { BASE, LINK, PIN, SHOTS, CANARY, MAILS, SENT, BENIGN, RECORD, NOTICES, PHASE, STATE } = process.env;
const PASSWORD = 'hostile corpus lantern 42';
const index = JSON.parse(fs.readFileSync(path.join(MAILS, 'index.json'), 'utf8'));
const byN = new Map(index.map((v) => [v.n, v]));
const sent = fs.readFileSync(SENT, 'utf8').split('\n').filter(Boolean);
const benign = BENIGN ? JSON.parse(fs.readFileSync(BENIGN, 'utf8')) : [];

const run = new Steps(SHOTS, 'hostile-');
const step = run.step.bind(run);
// what happened since the last reset
let ev = null;
const totals = { dialogs: 0, console: 0, errors: 0, navigations: 0, popups: 0, outside: 0, blocked: 0 };
function reset() { ev = { dialogs: [], console: [], errors: [], navigations: [], popups: [], outside: [], blocked: 0 }; }
reset();

// The browser's own messages (it refused a load, a base URL, a frame; an
// attribute did not parse) come without arguments; console.log and
// friends of a script always have some. Only the latter is output of the
// mail's scripts; the former are kept in NOTICES as the record of what
// was blocked.
const notices = [];

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--host-resolver-rules=MAP * 127.0.0.1:${CANARY}, EXCLUDE 127.0.0.1`];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS, headless: true });
// PHASE=activate: link, PIN, password, then keep the session in STATE;
// PHASE=view: with that session, everything else
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 },
  ...(PHASE === 'view' ? { storageState: STATE } : {}) });
ctx.setDefaultTimeout(15000);
await ctx.route((url) => !url.href.startsWith(BASE) && url.protocol !== 'data:', (route) => {
  ev.outside.push(route.request().url());
  return route.abort();
});
const page = await ctx.newPage();
ctx.on('page', (p) => { ev.popups.push(p.url()); p.close().catch(() => {}); });
run.current = page;
page.on('dialog', (d) => { ev.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
page.on('console', (m) => {
  if (m.args().length) ev.console.push(`${m.type()}: ${m.text()}`);
  else { ev.blocked++; notices.push(`${current}: ${m.type()}: ${m.text()}`); }
});
let current = '';
page.on('pageerror', (e) => ev.errors.push(String(e.message || e)));
// RECORD=DIR: every distinct request the browser made to the web UI, as
// raw HTTP/1.1 (for the mutation fuzzing of tests/fuzz/http.sh)
const recorded = new Set();
if (RECORD) fs.mkdirSync(RECORD, { recursive: true });
page.on('request', async (req) => {
  if (!RECORD || !req.url().startsWith(BASE)) return;
  const u = new URL(req.url());
  const key = `${req.method()} ${u.pathname.replace(/[0-9]+/g, 'N')}`;
  if (recorded.has(key) || recorded.size >= 200) return;
  recorded.add(key);
  const headers = await req.allHeaders().catch(() => ({}));
  const body = req.postDataBuffer() || Buffer.alloc(0);
  const lines = [`${req.method()} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (const [k, v] of Object.entries(headers))
    if (!/^(host|content-length|connection)$/i.test(k) && !k.startsWith(':')) lines.push(`${k}: ${v}`);
  if (body.length) lines.push(`Content-Length: ${body.length}`);
  lines.push('Connection: close', '', '');
  fs.writeFileSync(path.join(RECORD, `${PHASE}-${String(recorded.size).padStart(3, '0')}.http`),
    Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]));
});
let expected = new Set();
page.on('framenavigated', (f) => {
  // only the page and the mail's frame count: frames inside the sandbox cannot load anything
  if (f !== page.mainFrame() && f.parentFrame() !== page.mainFrame()) return;
  if (!expected.has(f.url())) ev.navigations.push(f.url());
});

// view - load url (the message's frame with it), give handlers time, report
// mark - tell the canary what is shown from now on
function mark(what) {
  return new Promise((resolve) => {
    http.get(`http://127.0.0.1:${CANARY}/__mark?${encodeURIComponent(what)}`, (res) => { res.resume(); res.on('end', resolve); })
      .on('error', resolve);
  });
}

async function view(url, frameUrl) {
  await mark(url.slice(BASE.length));
  reset();
  current = url.slice(BASE.length);
  expected = new Set([url, frameUrl].filter(Boolean));
  await page.goto(url, { waitUntil: 'load' });
  if (frameUrl) {
    await page.waitForTimeout(250);      // timers, autofocus, animations
  }
  // the marker can only be set on the page: the mail's frame runs no script
  // (an evaluate there would wait for a context that never comes)
  const v = await page.evaluate(() => window.__pwned).catch(() => undefined);
  const marker = v === undefined ? [] : [v];
  const r = { ...ev, marker };
  for (const k of ['dialogs', 'console', 'errors', 'navigations', 'popups', 'outside']) totals[k] += r[k].length;
  totals.blocked += r.blocked;
  return r;
}
function clean(r) {
  const bad = ['dialogs', 'console', 'errors', 'navigations', 'popups', 'outside', 'marker'].filter((k) => r[k].length);
  return bad.map((k) => `${k}: ${r[k].slice(0, 3).join(' | ').slice(0, 300)}`).join('; ');
}

if (PHASE === 'activate') {
await step('log in to the hostile mailbox (link, PIN, password, recovery code)', async () => {
  // every step of the activation may take seconds on a busy machine (ASan, S2K)
  await page.goto(LINK, { timeout: 120000 });
  await page.getByLabel('PIN').fill(PIN, { timeout: 120000 });
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  // re-protecting the key under the strong S2K count takes seconds on a busy machine
  await page.getByRole('button', { name: /Set password/ }).click({ timeout: 120000 });
  await page.waitForURL(`${BASE}/recovery-code`, { timeout: 120000 });
  await page.getByRole('link', { name: /go to my inbox/ }).click();
  await page.waitForURL(`${BASE}/inbox`);
  await ctx.storageState({ path: STATE });
});
await browser.close();
run.end();
}

// every folder page: hostile subjects and senders are shown here, outside any sandbox
const ids = [];
await step('every inbox page lists the hostile mails and runs nothing', async () => {
  const problems = [];
  for (let p = 0; p < 1000; p++) {
    const r = await view(`${BASE}/inbox?page=${p}`);
    const c = clean(r);
    if (c) problems.push(`page ${p}: ${c}`);
    const found = await page.locator('a.msg').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const h of found) ids.push(Number(h.split('/').pop()));
    if (!(await page.locator('nav.pager a', { hasText: /Older|→/ }).count())) break;
  }
  expect(problems.length === 0, problems.join(' || '));
  expect(ids.length === sent.length + benign.length, `${ids.length} messages listed, ${sent.length + benign.length} sent`);
});
ids.sort((a, b) => a - b);

const failures = [];
for (let i = 0; i < sent.length; i++) {
  const v = byN.get(sent[i]);
  const id = ids[i];
  await step(`vector ${v.n} ${v.source} ${v.id}: ${String(v.title ?? '').slice(0, 60)}`, async () => {
    const url = `${BASE}/msg/${id}`;
    let r = await view(url, `${BASE}/msg/${id}/html`);
    const c = clean(r);
    if (c) failures.push(`${v.n} ${v.id}: ${c}`);
    expect(!c, c);
    // the message was really shown (a redirect to the login page proves nothing)
    expect(page.url() === url, `at ${page.url()}, not at the message`);
    expect(await page.locator('article').count() === 1, 'no read view');
    expect(await page.title() !== 'pwned', 'title changed');
  });
}

for (let i = 0; i < benign.length; i++) {
  const b = benign[i];
  const id = ids[sent.length + i];
  await step(`benign mail "${b.name}" renders legibly`, async () => {
    const r = await view(`${BASE}/msg/${id}`, `${BASE}/msg/${id}/html`);
    const c = clean(r);
    expect(!c, c);
    const frame = page.frameLocator('iframe.html-frame');
    for (const text of b.texts) {
      const el = frame.getByText(text, { exact: false }).first();
      await el.waitFor({ state: 'visible' });
      const box = await el.boundingBox();
      expect(box && box.width > 10 && box.height > 5, `"${text}" is not laid out: ${JSON.stringify(box)}`);
    }
    if (b.color) {
      const col = await frame.locator(b.color.selector).first().evaluate((e) => getComputedStyle(e).color);
      expect(col === b.color.value, `${b.color.selector} is ${col}, the mail says ${b.color.value}`);
    }
    if (b.table) expect(await frame.locator('table td').count() >= b.table, 'the table is there');
    const fbox = await page.locator('iframe.html-frame').boundingBox();
    expect(fbox && fbox.height >= 150, `frame too small to read: ${JSON.stringify(fbox)}`);
    await page.screenshot({ path: path.join(SHOTS, `hostile-benign-${i + 1}.png`), fullPage: true });
  });
}

await step('the canary on loopback saw no connection from a page', async () => {
  const c = await new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${CANARY}/__count`, (res) => {
      let d = '';
      res.on('data', (x) => { d += x; });
      res.on('end', () => resolve(JSON.parse(d)));
    }).on('error', reject);
  });
  console.log(`# canary: ${c.page} page connection(s), ${c.browser} of Chromium's own background services (${JSON.stringify(c.hosts).slice(0, 300)})`);
  expect(c.page === 0, `${c.page} connection(s) from a page reached the canary: ${c.pages.join(' | ')}`);
});

console.log(`# hostile: ${sent.length} vectors viewed; dialogs ${totals.dialogs}, console ${totals.console}, ` +
  `errors ${totals.errors}, navigations ${totals.navigations}, popups ${totals.popups}, ` +
  `outside requests ${totals.outside}; browser block notices ${totals.blocked}`);
if (failures.length) console.log(`# failing vectors:\n# ${failures.join('\n# ')}`);
if (NOTICES) fs.writeFileSync(NOTICES, notices.join('\n') + '\n');
await browser.close();
run.end();
