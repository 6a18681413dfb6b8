// steps.mjs - what the browser scripts share: Chromium's launch, one
// check per step (a failed step is logged with a screenshot and the run
// goes on), and the closing line "N passed, N failed" that run.sh sums.
import { chromium } from 'playwright-core';
import path from 'node:path';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// launch - headless Chromium; extra: more command-line switches (a net log, host rules)
export function launch(extra = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, ...extra], headless: true });
}

export function expect(cond, what) { if (!cond) throw new Error(what); }

// Steps - counts the checks; a failure's screenshot is SHOTS/<prefix>fail-N.png
// of the page set as current
export class Steps {
  constructor(shots, prefix = '') {
    this.shots = shots;
    this.prefix = prefix;
    this.passed = 0;
    this.failed = 0;
    this.current = null;
  }

  async step(name, fn) {
    try {
      await fn();
      this.passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      this.failed++;
      const lines = e && e.message ? e.message.split('\n').filter((l) => l.trim()).slice(0, 4) : [String(e)];
      console.log(`not ok - ${name}: ${lines.join(' | ')}`);
      if (this.current) {
        const file = path.join(this.shots, `${this.prefix}fail-${this.passed + this.failed}.png`);
        try { await this.current.screenshot({ path: file, fullPage: true }); } catch { /* closed */ }
      }
    }
  }

  // end - the closing line and the exit status
  end() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}
