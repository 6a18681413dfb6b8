// recover.mjs - the recovery code in headless Chromium: a recipient
// activates a mailbox and keeps the code shown once, logs out, forgets the
// password, recovers with the code, chooses a new password and reads the
// old message. Then: the old password fails, the old code fails, wrong
// codes hit the lock-out (POSTERN_RECOVERY_LOCKOUT_AFTER=4 in run.sh) and
// even the right code waits; the sender got a mail about the recovery.
//
// BASE, LINK, PIN, ADDRESS, SHOTS, SINK, SENDER come from run.sh. Last
// line: "N passed, N failed".
import { Steps, expect, launch } from './steps.mjs';
import fs from 'node:fs';
import path from 'node:path';

const { BASE, LINK, PIN, ADDRESS, SHOTS, SINK, SENDER } = process.env;
const FIRST = 'copper willow stream 42';
const SECOND = 'granite harbour lights 17';
const CODE_FORM = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){6}$/;

const run = new Steps(SHOTS, 'recover-');
const step = run.step.bind(run);

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `recover-${name}.png`), fullPage: true });
}

// shownCode - the recovery code page: its code (activation and recovery
// re-protect the key three ways, one under the strong S2K: seconds on a
// busy machine)
async function shownCode(page) {
  await page.waitForURL(`${BASE}/recovery-code`, { timeout: 60000 });
  await page.getByRole('heading', { name: 'Your recovery code' }).waitFor();
  return (await page.locator('#recovery-code code').innerText()).trim();
}

// recover - the /recover form filled in and sent; the answer's status
async function recover(page, code, password) {
  await page.goto(`${BASE}/recover`);
  await page.getByLabel('E-mail address').fill(ADDRESS);
  await page.getByLabel('Recovery code').fill(code);
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(password);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${BASE}/recover` && r.request().method() === 'POST',
      { timeout: 60000 }),
    page.getByRole('button', { name: 'Recover' }).click({ timeout: 60000 }),
  ]);
  await page.waitForLoadState();
  return resp.status();
}

// login - the login form; true when it reached the inbox. The click does
// not wait for the navigation it starts, and a login unwraps the key (a
// second or more on a busy machine), so the POST's answer is awaited, then
// the inbox it redirects to.
async function login(page, password) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('E-mail address').fill(ADDRESS);
  await page.getByLabel('Password').fill(password);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${BASE}/login` && r.request().method() === 'POST',
      { timeout: 60000 }),
    page.getByRole('button', { name: 'Log in' }).click({ timeout: 60000 }),
  ]);
  if (resp.status() !== 303 && resp.status() !== 302) {
    await page.waitForLoadState();
    return false;
  }
  await page.waitForURL(`${BASE}/inbox`, { timeout: 60000 });
  return true;
}

// another - a code of the right form that is not code
function another(code) {
  const c = code.replace(/-/g, '').split('');
  c[0] = c[0] === 'A' ? 'B' : 'A';
  return c.join('').replace(/(.{4})(?=.)/g, '$1-');
}

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(15000);
  const page = await ctx.newPage();
  run.current = page;
  let first = '';
  let second = '';

  await step('activation: link, PIN, password, then the recovery code, shown once', async () => {
    await page.goto(LINK);
    await page.getByLabel('PIN').fill(PIN);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password', { exact: true }).fill(FIRST);
    await page.getByLabel('Repeat the password').fill(FIRST);
    await page.getByRole('button', { name: /Set password/ }).click({ timeout: 60000 });
    first = await shownCode(page);
    expect(CODE_FORM.test(first), `code ${first}`);
    await shot(page, '1-code');
    await page.goto(`${BASE}/recovery-code`);
    expect(page.url() === `${BASE}/inbox`, `shown again at ${page.url()}`);
  });

  await step('log out; the login page leads to recovery', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You have been logged out.').waitFor();
    await page.getByRole('link', { name: /Forgot your password/ }).click();
    await page.getByRole('heading', { name: 'Recover your mailbox' }).waitFor();
  });

  await step('a wrong code is refused', async () => {
    const status = await recover(page, another(first), SECOND);
    expect(status === 200, `status ${status}`);
    await page.getByText('The address or the recovery code is not right.').waitFor();
    await shot(page, '2-wrong');
  });

  await step('the right code (typed in lower case, with spaces) sets the new password and shows a new code', async () => {
    const typed = first.toLowerCase().replace(/-/g, ' ');
    await recover(page, typed, SECOND);
    second = await shownCode(page);
    expect(CODE_FORM.test(second) && second !== first, `new code ${second}`);
    await shot(page, '3-new-code');
    await page.getByRole('link', { name: /go to my inbox/ }).click();
    await page.waitForURL(`${BASE}/inbox`);
  });

  await step('the old message reads', async () => {
    await page.getByText('Quarterly report & <plans>').click();
    // the HTML part is shown alone; its text version says the secret word
    await page.getByRole('link', { name: 'Show the plain-text version' }).click();
    await page.getByText('The secret word is marmalade.').waitFor();
    await shot(page, '4-read');
  });

  await step('the old password fails, the new one opens the inbox', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    expect(!(await login(page, FIRST)), 'the old password still opens the mailbox');
    await page.getByText('The address or the password is not right.').waitFor();
    expect(await login(page, SECOND), 'the new password does not open the mailbox');
    await page.getByRole('button', { name: 'Log out' }).click();
  });

  await step('the old code fails', async () => {
    await recover(page, first, 'another fine password 9');
    await page.getByText('The address or the recovery code is not right.').waitFor();
  });

  await step('wrong codes hit the lock-out, and then even the right code waits', async () => {
    for (let i = 0; i < 3; i++) await recover(page, another(second), 'another fine password 9');
    const status = await recover(page, second, 'another fine password 9');
    expect(status === 429, `status ${status}`);
    await page.getByText(/Too many wrong recovery codes. Please wait/).waitFor();
    await shot(page, '5-locked');
    expect(await login(page, SECOND), 'the password no longer works after the lock-out');
  });

  await step('the sender was told about the recovery', async () => {
    const mails = fs.readdirSync(SINK).filter((f) => fs.statSync(path.join(SINK, f)).isFile())
      .map((f) => fs.readFileSync(path.join(SINK, f), 'latin1'))
      .filter((m) => m.includes(`X-Sink-Rcpt-To: <${SENDER}>`) && m.includes('recovered'));
    expect(mails.length === 1, `${mails.length} recovery notices to the sender`);
    expect(mails[0].includes(ADDRESS) && !mails[0].includes(second.replace(/-/g, '')) &&
      !mails[0].includes(second), 'the notice names the mailbox and never the code');
  });
} finally {
  await browser.close();
}
run.end();
