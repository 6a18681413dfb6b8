// lockout.mjs - PIN lock-out in headless Chromium, across web UI restarts.
//
// run.sh calls this once per phase and restarts postern-webui between the
// phases, so what the browser sees can only come from state that outlives
// the process (provision's counters in Redis, the session record):
//   wrong3  open the invitation, three wrong PINs (9, 8, 7 tries left)
//   wrong2  the same browser session: two more wrong PINs; the fifth in a
//           row starts a lock-out (5 tries left, "please wait")
//   right   the sixth try, with the right PIN, is refused: no password
//           page, a "wait" notice; a fresh browser with the link and the
//           right PIN is refused as well
// LINK, PIN, BASE, SHOTS, STATE (a file that carries the cookies from one
// phase to the next) come from run.sh. Last line: "N passed, N failed".
import { Steps, expect, launch } from './steps.mjs';
import fs from 'node:fs';
import path from 'node:path';

const { BASE, LINK, PIN, SHOTS, STATE, PHASE } = process.env;
const WRONG = String((Number(PIN) + 1) % 1000000).padStart(PIN.length, '0');

const run = new Steps(SHOTS, `lockout-${PHASE}-`);
const step = run.step.bind(run);

// enterPin - submit one PIN; the answer's status and the page's text
async function enterPin(page, pin) {
  await page.getByLabel('PIN').fill(pin);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${BASE}/activate/pin` && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  await page.waitForLoadState();
  return { status: resp.status(), text: await page.locator('main').innerText() };
}

const browser = await launch();
try {
  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    ...(PHASE !== 'wrong3' && fs.existsSync(STATE) ? { storageState: STATE } : {}),
  });
  ctx.setDefaultTimeout(10000);
  const page = await ctx.newPage();
  run.current = page;

  if (PHASE === 'wrong3') {
    await step('the invitation opens the PIN form', async () => {
      await page.goto(LINK);
      expect(page.url() === `${BASE}/activate`, `at ${page.url()}`);
      await page.getByRole('heading', { name: 'Enter your PIN' }).waitFor();
    });
    for (const left of [9, 8, 7]) {
      await step(`a wrong PIN: ${left} tries left`, async () => {
        const r = await enterPin(page, WRONG);
        expect(r.text.includes(`That PIN is not right. ${left} tries left.`), r.text.slice(0, 200));
        expect(!r.text.includes('Please wait'), 'locked too early');
      });
    }
    await page.screenshot({ path: path.join(SHOTS, 'lockout-1-three-wrong.png'), fullPage: true });
  } else if (PHASE === 'wrong2') {
    await step('after a web UI restart the same session still shows the PIN form', async () => {
      await page.goto(`${BASE}/activate`);
      await page.getByRole('heading', { name: 'Enter your PIN' }).waitFor();
    });
    await step('the fourth wrong PIN: 6 tries left', async () => {
      const r = await enterPin(page, WRONG);
      expect(r.text.includes('That PIN is not right. 6 tries left.'), r.text.slice(0, 200));
    });
    await step('the fifth wrong PIN in a row starts a lock-out', async () => {
      const r = await enterPin(page, WRONG);
      expect(r.text.includes('5 tries left. Please wait'), r.text.slice(0, 200));
    });
    await page.screenshot({ path: path.join(SHOTS, 'lockout-2-five-wrong.png'), fullPage: true });
  } else if (PHASE === 'right') {
    await step('after another restart, the sixth try is refused although the PIN is right', async () => {
      await page.goto(`${BASE}/activate`);
      await page.getByRole('heading', { name: 'Enter your PIN' }).waitFor();
      const r = await enterPin(page, PIN);
      expect(r.status === 429, `status ${r.status}`);
      expect(r.text.includes('Too many wrong tries. Please wait'), r.text.slice(0, 200));
      expect(!page.url().includes('/activate/password'), `at ${page.url()}`);
      expect(await page.getByRole('heading', { name: 'Choose your password' }).count() === 0,
        'the password page was reached');
      await page.screenshot({ path: path.join(SHOTS, 'lockout-3-refused.png'), fullPage: true });
    });
    await step('a fresh browser with the link and the right PIN is refused too', async () => {
      const fresh = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
      const p = await fresh.newPage();
      run.current = p;
      await p.goto(LINK);
      await p.getByRole('heading', { name: 'Enter your PIN' }).waitFor();
      const r = await enterPin(p, PIN);
      expect(r.status === 429 && r.text.includes('Too many wrong tries'), `status ${r.status}: ${r.text.slice(0, 200)}`);
      await p.screenshot({ path: path.join(SHOTS, 'lockout-4-fresh-refused.png'), fullPage: true });
      await fresh.close();
      run.current = page;
    });
  } else {
    throw new Error(`unknown PHASE ${PHASE}`);
  }
  await ctx.storageState({ path: STATE });
  await ctx.close();
} finally {
  await browser.close();
}
run.end();
