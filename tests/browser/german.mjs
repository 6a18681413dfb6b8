// german.mjs - a recipient invited in German, in headless Chromium with
// JavaScript switched off for the whole journey.
//
// BASE, LINK, PIN, ADDRESS, SHOTS, SINK come from run.sh, which sent the
// invitation with --locale de. The browser itself asks for English
// (Accept-Language: en-US): every page from the link on must still be
// German - <html lang="de">, German headings and buttons, dates with
// German month names - because the mailbox is. Switching to English is a
// plain link (no script can run here), it sticks for the next login, and
// it is stored with the mailbox. Before any login the login page follows
// Accept-Language. The dates' UTC offset defaults to the organisation's
// and is chosen with a plain GET form. The organisation's logo is served by the web UI with a
// long cache, and nothing is ever requested outside BASE.
import { Steps, expect, launch } from './steps.mjs';
import fs from 'node:fs';
import path from 'node:path';

const { BASE, LINK, PIN, ADDRESS, SHOTS, SINK } = process.env;
const PASSWORD = 'Laterne leise Umlaufbahn 7';
const GERMAN_DATE = /\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember) \d{4}, \d\d:\d\d Uhr/;

const run = new Steps(SHOTS, 'de-');
const outside = [];
const step = run.step.bind(run);

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `de-${name}.png`), fullPage: true });
}

// german - the page is German: lang, and none of the English frame's words
async function german(page) {
  const lang = await page.locator('html').getAttribute('lang');
  expect(lang === 'de', `<html lang="${lang}"> at ${page.url()}`);
  const text = await page.locator('body').innerText();
  for (const en of ['Log out', 'Inbox', 'Skip to content', 'temporary mailbox', 'Continue']) {
    expect(!text.includes(en), `English "${en}" on ${page.url()}`);
  }
}

const browser = await launch();
try {
  await step('the invitation is German, names the organisation and carries the logo inline', async () => {
    const files = fs.readdirSync(SINK).filter((f) => f.endsWith('.eml'))
      .map((f) => fs.readFileSync(path.join(SINK, f), 'latin1'));
    const mail = files.find((m) => m.includes(`X-Sink-Rcpt-To: <${ADDRESS}>`));
    expect(mail, 'no invitation in the sink');
    expect(/^Content-Language: de\r?$/m.test(mail), 'Content-Language: de');
    expect(mail.includes('Content-Id: <logo@postern>') || mail.includes('Content-ID: <logo@postern>'),
      'the logo as an inline part');
    expect(mail.includes('Example Org'), 'the organisation');
  });

  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 800 }, javaScriptEnabled: false, locale: 'en-US',
  });
  ctx.setDefaultTimeout(10000);
  await ctx.route((url) => !url.href.startsWith(BASE) && url.protocol !== 'data:', (route) => {
    outside.push(route.request().url());
    return route.abort();
  });
  const page = await ctx.newPage();
  run.current = page;

  await step('the link opens the PIN form in German, though the browser asks for English', async () => {
    await page.goto(LINK);
    expect(page.url() === `${BASE}/activate`, `at ${page.url()}`);
    await page.getByRole('heading', { name: 'Geben Sie Ihre PIN ein' }).waitFor();
    await german(page);
    await shot(page, '01-pin');
  });

  await step('a wrong PIN is answered in German', async () => {
    const wrong = String((Number(PIN) + 1) % 1000000).padStart(6, '0');
    await page.getByLabel('PIN').fill(wrong);
    await page.getByRole('button', { name: 'Weiter' }).click();
    await page.getByText(/Diese PIN ist nicht richtig/).waitFor();
    await german(page);
  });

  await step('the right PIN leads to the German password page', async () => {
    await page.getByLabel('PIN').fill(PIN);
    await page.getByRole('button', { name: 'Weiter' }).click();
    await page.getByRole('heading', { name: 'Wählen Sie Ihr Passwort' }).waitFor();
    await german(page);
    await shot(page, '02-password');
  });

  await step('the inbox is German, its dates in German format', async () => {
    await page.getByLabel('Passwort', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Passwort wiederholen').fill(PASSWORD);
    /* three key re-protections, one under the strong S2K: seconds on a busy machine */
    await page.getByRole('button', { name: /Passwort festlegen/ }).click({ timeout: 90000 });
    await page.waitForURL(`${BASE}/recovery-code`, { timeout: 90000 });
    await page.getByRole('heading', { name: 'Ihr Wiederherstellungscode' }).waitFor();
    await german(page);
    await shot(page, '03a-recovery-code');
    await page.getByRole('link', { name: /weiter zum Posteingang/ }).click();
    await page.waitForURL(`${BASE}/inbox`);
    await page.getByRole('link', { name: 'Posteingang' }).waitFor();
    await german(page);
    const text = await page.locator('main').innerText();
    expect(GERMAN_DATE.test(text), `no German date in: ${text.slice(0, 300)}`);
    expect(text.includes('UTC+00:00'), 'the organisation\'s zone by default');
    await shot(page, '03-inbox');
  });

  await step('reading a message is German too', async () => {
    await page.locator('a.msg, .msg a').first().click();
    await page.getByText('Guten Tag Dora').waitFor();
    await german(page);
    const text = await page.locator('main').innerText();
    expect(/\bVon\b/.test(text) && /\bAn\b/.test(text) && /\bDatum\b/.test(text),
      'German field names');
    /* the mail's Date header in German and the chosen zone, not as the mail wrote it */
    const date = await page.locator('dl.hdrs dd').last().innerText();
    expect(GERMAN_DATE.test(date) && date.includes('UTC+00:00'), `the Date is "${date}"`);
    expect(!/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), /.test(text), 'the raw RFC 5322 Date is shown');
    await shot(page, '04-read');
  });

  await step('the sent folder is German', async () => {
    await page.getByRole('link', { name: 'Gesendet' }).click();
    await page.waitForURL(`${BASE}/sent`);
    await german(page);
  });

  await step('a plain link switches to English, no script needed', async () => {
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForURL(`${BASE}/sent`);
    expect(await page.locator('html').getAttribute('lang') === 'en', 'lang="en"');
    await page.getByRole('link', { name: 'Inbox' }).waitFor();
    await page.getByRole('link', { name: 'Deutsch' }).waitFor();
    await shot(page, '05-english');
  });

  await step('the time zone of the dates is chosen with a plain form', async () => {
    await page.getByLabel('Time zone').selectOption('540');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(`${BASE}/sent`);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.waitForURL(`${BASE}/inbox`);
    const text = await page.locator('main').innerText();
    expect(text.includes('UTC+09:00'), `no UTC+09:00 date in: ${text.slice(0, 300)}`);
  });

  await step('English stays: with the mailbox, for the next login', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You have been logged out.').waitFor();
    const fresh = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE' });
    const p = await fresh.newPage();
    await p.goto(`${BASE}/login`);
    /* before a login: Accept-Language decides */
    expect(await p.locator('html').getAttribute('lang') === 'de', 'the login page follows Accept-Language');
    await p.getByLabel('E-Mail-Adresse').fill(ADDRESS);
    await p.getByLabel('Passwort').fill(PASSWORD);
    await p.getByRole('button', { name: 'Anmelden' }).click({ timeout: 60000 });
    await p.waitForURL(`${BASE}/inbox`, { timeout: 60000 });
    expect(await p.locator('html').getAttribute('lang') === 'en', 'the mailbox says English now');
    await p.getByRole('link', { name: 'Inbox' }).waitFor();
    await fresh.close();
  });

  await step('the logo comes from the web UI, cached for a year', async () => {
    const r = await page.request.get(`${BASE}/static/logo`);
    expect(r.status() === 200, `status ${r.status()}`);
    expect(r.headers()['content-type'] === 'image/png', r.headers()['content-type']);
    expect(/max-age=31536000/.test(r.headers()['cache-control'] || ''), r.headers()['cache-control']);
    await page.goto(`${BASE}/login`);
    const src = await page.locator('img.logo').getAttribute('src');
    expect(src === '/static/logo', `logo src ${src}`);
  });

  await step('nothing was requested outside the web UI', async () => {
    expect(outside.length === 0, outside.join(', '));
  });
  await ctx.close();
} finally {
  await browser.close();
}
run.end();
