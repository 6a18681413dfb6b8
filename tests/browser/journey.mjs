// journey.mjs - the recipient's whole journey in headless Chromium.
//
// BASE, LINK, PIN, ADDRESS, ATTACHMENT, SHOTS come from run.sh. Each step
// is one check; the last line is "N passed, N failed". Screenshots of
// each step (desktop and phone) go to SHOTS. Throughout, the test watches
// every request the browser makes: nothing may leave BASE (no tracking
// pixel, no remote CSS, no form post), and the marker the hostile HTML
// part tries to set (window.__pwned) must stay unset.
import { Steps, expect, launch } from './steps.mjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const { BASE, LINK, PIN, ADDRESS, ATTACHMENT, SHOTS, SINK, SENDER, SENDER_HOME, SENDER_PASS } = process.env;
const REPLY = 'Thank you, Alice. The figures look right. (reply 5150)';
// a small file the reply carries: bytes a text mangling would change
const REPLY_FILE = {
  name: 'reply-notes.bin', mimeType: 'application/octet-stream',
  buffer: Buffer.from([0, 1, 2, 255, 13, 10, 45, 45, 65, 66, 67, 13, 0, 10, 200]),
};
const PASSWORD = 'lantern quietly orbit 7';

const run = new Steps(SHOTS);
const outside = [];       // requests that really went for the network outside BASE
const blocked = [];       // attempts the browser refused before the network (CSP)
const step = run.step.bind(run);

// attachmentOf - the decoded bytes of the base64 part named name in a MIME text, or null
function attachmentOf(mime, name) {
  const at = mime.search(new RegExp(`filename="?${name.replace(/[.]/g, '\\.')}"?`));
  if (at < 0) return null;
  const head = /\r?\n\r?\n/.exec(mime.slice(at));
  if (!head) return null;
  const start = at + head.index + head[0].length;
  const end = mime.indexOf('\n--', start);
  return Buffer.from(mime.slice(start, end < 0 ? undefined : end), 'base64');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// watch - every request of the context that gets past the browser's own
// checks reaches the route handler; one for another origin is recorded
// (and aborted, so nothing leaves this machine). Attempts that CSP or the
// sandbox stopped never get here; they are listed for the log only.
async function watch(ctx) {
  await ctx.route((url) => !url.href.startsWith(BASE) && url.protocol !== 'data:', (route) => {
    outside.push(route.request().url());
    return route.abort();
  });
  ctx.on('requestfailed', (req) => {
    if (!req.url().startsWith(BASE)) blocked.push(`${req.url()} (${req.failure()?.errorText})`);
  });
}

async function pwned(page) {
  const values = [];
  const late = new Promise((resolve) => setTimeout(() => resolve(undefined), 2000));
  for (const f of page.frames()) {
    try {
      values.push(await Promise.race([f.evaluate(() => window.__pwned), late]));
    } catch { /* a frame without script (the sandbox): nothing can be set there */ }
  }
  return values.filter((v) => v !== undefined);
}

const browser = await launch();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  desk.setDefaultTimeout(10000);
  await watch(desk);
  const page = await desk.newPage();
  run.current = page;
  let msgUrl = '';

  await step('the invitation link leads to the PIN form, without the secret in the URL', async () => {
    await page.goto(LINK);
    expect(page.url() === `${BASE}/activate`, `at ${page.url()}`);
    await page.getByRole('heading', { name: 'Enter your PIN' }).waitFor();
    expect((await page.content()).includes(ADDRESS), 'the mailbox address is shown');
    await shot(page, '01-pin-desktop');
  });

  await step('a wrong PIN shows the tries left', async () => {
    const wrong = String((Number(PIN) + 1) % 1000000).padStart(6, '0');
    await page.getByLabel('PIN').fill(wrong);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText(/tries left/).waitFor();
    await shot(page, '02-pin-wrong');
  });

  await step('the right PIN leads to choosing the password', async () => {
    await page.getByLabel('PIN').fill(PIN);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
    await shot(page, '03-password');
  });

  await step('a common password is refused', async () => {
    await page.getByLabel('Password', { exact: true }).fill('iloveyou2024');
    await page.getByLabel('Repeat the password').fill('iloveyou2024');
    await page.getByRole('button', { name: /Set password/ }).click();
    await page.getByText('This password is too common').waitFor();
    await shot(page, '04-password-common');
  });

  await step('setting the password opens the inbox with the mail', async () => {
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    /* re-protecting the key with the password takes seconds (strong S2K), more on a busy machine */
    await page.getByRole('button', { name: /Set password/ }).click({ timeout: 60000 });
    await page.waitForURL(`${BASE}/inbox`, { timeout: 60000 });
    await page.getByText('Quarterly report & <plans>').waitFor();
    expect(await page.locator('.msg.unread').count() === 1, 'one unread message');
    await shot(page, '05-inbox-desktop');
  });

  await step('the cookie is __Host-, Secure, HttpOnly, SameSite=Strict', async () => {
    const c = (await desk.cookies()).find((k) => k.name === '__Host-postern');
    expect(c && c.secure && c.httpOnly && c.sameSite === 'Strict' && c.path === '/', JSON.stringify(c));
    expect(!(await page.evaluate(() => document.cookie)).includes('postern'), 'not visible to script');
  });

  await step('reading shows the text body and the sandboxed HTML part', async () => {
    await page.getByText('Quarterly report & <plans>').click();
    await page.getByRole('heading', { name: 'Quarterly report & <plans>' }).waitFor();
    msgUrl = page.url();
    await page.getByText('The secret word is marmalade.').waitFor();
    const frame = page.locator('iframe.html-frame');
    expect(await frame.getAttribute('sandbox') === '', 'iframe sandbox without allowances');
    await page.frameLocator('iframe.html-frame').getByRole('heading', { name: 'Quarterly figures' }).waitFor();
    await page.waitForTimeout(1500);        // give hostile handlers their chance
    await shot(page, '06-read-desktop');
  });

  await step('the hostile HTML ran no script and loaded nothing from outside', async () => {
    const p = await pwned(page);
    expect(p.length === 0, `marker set: ${p}`);
    expect(await page.title() !== 'pwned', 'title changed');
    expect(outside.length === 0, `requests outside the web UI: ${outside.join(', ')}`);
  });

  await step('the attachment downloads byte-identical', async () => {
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /figures-q3\.bin/ }).click(),
    ]);
    expect(dl.suggestedFilename() === 'figures-q3.bin', dl.suggestedFilename());
    const got = fs.readFileSync(await dl.path());
    expect(got.equals(fs.readFileSync(ATTACHMENT)), `got ${got.length} bytes`);
  });

  await step('the inbox shows the mail as read; Sent is empty with a note', async () => {
    await page.getByRole('link', { name: 'Inbox' }).click();
    expect(await page.locator('.msg.unread').count() === 0, 'still unread');
    await page.getByRole('link', { name: 'Sent' }).click();
    await page.getByText('Nothing sent yet').waitFor();
    await shot(page, '07-sent-empty');
  });

  await step('reply with text and a file: Sent shows the reply and the file', async () => {
    await page.goto(msgUrl);
    await page.getByLabel('Your message').fill(REPLY);
    await page.getByLabel('Attach files (optional)').setInputFiles(REPLY_FILE);
    await shot(page, '07b-reply-form');
    await page.getByRole('button', { name: 'Send reply' }).click();
    await page.waitForURL(`${BASE}/sent`);
    await page.getByText('Re: Quarterly report & <plans>').waitFor();
    await shot(page, '07c-sent-reply');
    await page.getByText('Re: Quarterly report & <plans>').click();
    await page.getByText('(reply 5150)').waitFor();
    await page.getByRole('link', { name: /reply-notes\.bin/ }).waitFor();
  });

  await step("the sender's copy at the SMTP sink is PGP/MIME her key decrypts to the reply", async () => {
    let mail = '';
    for (let i = 0; i < 100 && !mail; i++) {
      for (const f of fs.readdirSync(SINK, { withFileTypes: true })) {
        if (!f.isFile()) continue;
        const t = fs.readFileSync(path.join(SINK, f.name), 'utf8');
        if (t.includes(`X-Sink-Rcpt-To: <${SENDER}>`) && t.includes('multipart/encrypted')) mail = t;
      }
      if (!mail) await new Promise((r) => setTimeout(r, 100));
    }
    expect(mail, 'no PGP/MIME mail to the sender');
    expect(mail.includes('protocol="application/pgp-encrypted"'), 'not RFC 3156');
    expect(!mail.includes('5150'), 'the reply is readable in transit');
    const armored = mail.slice(mail.indexOf('-----BEGIN PGP MESSAGE-----'),
      mail.indexOf('-----END PGP MESSAGE-----') + '-----END PGP MESSAGE-----'.length);
    // gpg exits 2 here: the signature is there but the guest's public key is
    // not in alice's keyring; the status lines tell decryption and signing apart
    const r = spawnSync('gpg', ['--homedir', SENDER_HOME, '--batch', '--quiet', '--status-fd', '2',
      '--pinentry-mode', 'loopback', '--passphrase', SENDER_PASS, '--decrypt'], { input: armored });
    const status = r.stderr.toString(), plain = r.stdout.toString();
    expect(status.includes('[GNUPG:] DECRYPTION_OKAY'), `not decrypted: ${status.slice(0, 300)}`);
    expect(/\[GNUPG:\] (ERRSIG|NO_PUBKEY|GOODSIG)/.test(status), 'not signed');
    expect(plain.includes('(reply 5150)'), 'the reply text is not in the decrypted mail');
    expect(plain.includes('> the figures for Q3'), 'the original is not quoted');
    const att = attachmentOf(plain, REPLY_FILE.name);
    expect(att, 'the attachment is not in the decrypted mail');
    expect(att.equals(REPLY_FILE.buffer), `the attachment differs: ${att.toString('hex')}`);
  });

  await step('logout ends the session; the old page needs a login', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You have been logged out.').waitFor();
    await shot(page, '08-logged-out');
    await page.goto(msgUrl);
    expect(page.url() === `${BASE}/login`, `at ${page.url()}`);
  });

  await step('a wrong password fails', async () => {
    await page.getByLabel('E-mail address').fill(ADDRESS);
    await page.getByLabel('Password').fill('not my password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('The address or the password is not right.').waitFor();
    await shot(page, '09-login-failed');
  });

  await step('logging in again with the password opens the inbox', async () => {
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${BASE}/inbox`);
    await page.getByText('Quarterly report & <plans>').waitFor();
  });

  await step('on a phone (390x844) the inbox and the message fit the screen', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      storageState: await desk.storageState(),
    });
    await watch(phone);
    const p = await phone.newPage();
    await p.goto(`${BASE}/inbox`);
    await p.getByText('Quarterly report & <plans>').waitFor();
    await shot(p, '10-inbox-phone');
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    expect(wide <= 390, `page is ${wide}px wide`);
    await p.goto(msgUrl);
    await p.getByText('The secret word is marmalade.').waitFor();
    await p.waitForTimeout(500);
    await shot(p, '11-read-phone');
    const wide2 = await p.evaluate(() => document.documentElement.scrollWidth);
    expect(wide2 <= 390, `message page is ${wide2}px wide`);
    const fresh = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    const q = await fresh.newPage();
    await q.goto(`${BASE}/login`);
    await shot(q, '12-login-phone');
    await fresh.close();
    await phone.close();
  });

  await step('still nothing requested outside the web UI', async () => {
    expect(outside.length === 0, outside.join(', '));
  });
  console.log(`# stopped by the browser before the network: ${blocked.length}`);
  for (const b of blocked) console.log(`#   ${b}`);
  await desk.close();
} finally {
  await browser.close();
}
run.end();
