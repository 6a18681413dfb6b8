// http-send.mjs - send requests to a web server, one TCP connection each,
// and count what came back. The requests are the pieces of FILE cut at
// the lengths listed (one per line) in LENGTHS.
//
//   node http-send.mjs HOST PORT FILE LENGTHS [CONCURRENCY]
//   node http-send.mjs --build FILE FROM COUNT REQUEST...
//
// --build writes FILE and FILE.len: requests FROM .. FROM+COUNT-1 of the
// endless cycle through the REQUEST files, one after the other (what zzuf
// then mutates).
//
// Prints one line of JSON: sent, answered (by status class), closed
// without an answer, timed out (no answer in 3 s: the client gives up),
// refused (nobody listening - the server died) and errors.
import fs from 'node:fs';
import net from 'node:net';

if (process.argv[2] === '--build') {
  const [out, from, count, ...reqs] = process.argv.slice(3);
  const bodies = reqs.map((f) => fs.readFileSync(f));
  const parts = [], lens = [];
  for (let i = Number(from); i < Number(from) + Number(count); i++) {
    const b = bodies[i % bodies.length];
    parts.push(b);
    lens.push(b.length);
  }
  fs.writeFileSync(out, Buffer.concat(parts));
  fs.writeFileSync(`${out}.len`, lens.join('\n') + '\n');
  process.exit(0);
}
const [host, port, file, lengthsFile, conc = '4'] = process.argv.slice(2);
const data = fs.readFileSync(file);
const lengths = fs.readFileSync(lengthsFile, 'utf8').split('\n').filter(Boolean).map(Number);
const stats = { sent: 0, answered: {}, closed: 0, timeout: 0, refused: 0, error: 0 };
let next = 0, offset = 0;
const pieces = lengths.map((n) => { const p = [offset, n]; offset += n; return p; });

function one(i) {
  return new Promise((resolve) => {
    const [off, n] = pieces[i];
    const sock = net.connect({ host, port: Number(port) });
    let got = Buffer.alloc(0), done = false;
    const finish = (kind) => {
      if (done) return;
      done = true;
      if (kind) stats[kind]++;
      else {
        const m = /^HTTP\/1\.[01] ([0-9])/.exec(got.toString('latin1', 0, 16));
        if (m) stats.answered[`${m[1]}xx`] = (stats.answered[`${m[1]}xx`] || 0) + 1;
        else stats.closed++;
      }
      sock.destroy();
      resolve();
    };
    sock.setTimeout(3000, () => finish(got.length ? null : 'timeout'));
    sock.on('connect', () => { stats.sent++; sock.end(data.subarray(off, off + n)); });
    sock.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length > 64) finish(null); });
    sock.on('end', () => finish(null));
    sock.on('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : got.length ? null : 'error'));
  });
}

async function worker() {
  while (next < pieces.length) await one(next++);
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
console.log(JSON.stringify(stats));
