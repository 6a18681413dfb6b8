// canary.mjs - a TCP listener on loopback that counts every connection.
// Chromium maps every host name here (--host-resolver-rules), so anything
// that gets out of a page lands here: HTTP, TLS, preconnects.
//
//   node canary.mjs PORT
//
// Each connection is filed under the host it names (HTTP Host header, or
// the server name of a TLS ClientHello). Chromium itself talks to its
// vendor's services in the background whatever the page does (component
// updates, network time, autofill); connections naming such a host are
// counted as "browser", everything else - a connection naming any other
// host, or none, or silent for 5 s - as "page". "GET /__count" answers
// {"page": N, "browser": N, "hosts": {...}, "pages": [...]} and is not
// counted; "GET /__mark?WHAT" (not counted either) names what the browser
// shows from now on, so that a page connection is listed with it.
import net from 'node:net';

const BROWSER = /(^|\.)(googleapis\.com|google\.com|gstatic\.com|gvt1\.com|gvt2\.com|googleusercontent\.com|chrome\.com|chromium\.org)$/i;
const count = { page: 0, browser: 0, hosts: {}, pages: [] };
let showing = 'start';

// sni - the server name of a TLS ClientHello, or null
function sni(b) {
  try {
    if (b[0] !== 0x16 || b[5] !== 0x01) return null;
    let p = 9 + 2 + 32;                                   // record + handshake headers, version, random
    p += 1 + b[p];                                        // session id
    p += 2 + b.readUInt16BE(p);                           // cipher suites
    p += 1 + b[p];                                        // compression methods
    const end = p + 2 + b.readUInt16BE(p);
    for (p += 2; p + 4 <= end;) {
      const type = b.readUInt16BE(p), len = b.readUInt16BE(p + 2);
      if (type === 0) return b.toString('latin1', p + 9, p + 9 + b.readUInt16BE(p + 7));
      p += 4 + len;
    }
  } catch { /* cut short */ }
  return null;
}

function file(host, first, when) {
  const kind = host && BROWSER.test(host) ? 'browser' : 'page';
  count[kind]++;
  count.hosts[host || '-'] = (count.hosts[host || '-'] || 0) + 1;
  if (kind === 'page') {
    count.pages.push(`${when} ${host || '-'} ${first.slice(0, 80)}`);
    console.error(`canary: page connection to ${host || '-'} while showing ${when}: ${JSON.stringify(first.slice(0, 200))}`);
  }
}

net.createServer((sock) => {
  const when = showing;
  const timer = setTimeout(() => { file(null, '(silent)', when); sock.destroy(); }, 5000);
  sock.once('data', (d) => {
    clearTimeout(timer);
    const first = d.toString('latin1').split('\r\n')[0];
    if (first.startsWith('GET /__mark?')) {
      showing = decodeURIComponent(first.slice(12).split(' ')[0]);
      sock.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
      return;
    }
    if (first.startsWith('GET /__count ')) {
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify(count)}`);
      return;
    }
    const host = /\r\nHost: *([^\r\n:]+)/i.exec(d.toString('latin1'))?.[1] ?? sni(d);
    file(host, first, when);
    sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  sock.on('error', () => {});
}).listen(Number(process.argv[2]), '127.0.0.1');
