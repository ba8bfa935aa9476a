// A pathhook webhook receiver in Node.js, built-in modules only.
//
//   WEBHOOK_SECRET='your webhook secret' PORT=4000 node receiver.js
//
// Set PLATFORM if your platform is not Falkor (ByteKast, TrainiApp, ...):
// it names the headers. HOST defaults to 127.0.0.1.
'use strict';
const http = require('http');
const crypto = require('crypto');

const secret = process.env.WEBHOOK_SECRET;
const platform = process.env.PLATFORM || 'Falkor';
const port = Number(process.env.PORT || 4000);
const host = process.env.HOST || '127.0.0.1';
const maxBody = 5 * 1024 * 1024;

if (!secret) {
  // Without a secret anyone could sign: refuse to start.
  console.error('receiver.js: WEBHOOK_SECRET is not set');
  process.exit(1);
}

// signatureMatches reports whether header is "sha256=" and the hex
// HMAC-SHA256 of the raw body under the secret, comparing in constant time.
function signatureMatches(header, body) {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from('sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex'));
  const got = Buffer.from(header);
  // timingSafeEqual throws on different lengths; the length is no secret.
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405, { Allow: 'POST' }).end();
    return;
  }
  // Keep the raw bytes: the signature covers the body exactly as sent, so
  // verify before any JSON parsing (and never re-serialise to verify).
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > maxBody) {
      tooLarge = true;
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) return;
    const body = Buffer.concat(chunks);
    // Node lowercases incoming header names.
    const header = (name) => req.headers[`${platform}-webhook-${name}`.toLowerCase()];
    // During a secret rotation a delivery is also signed with the previous
    // secret, in -Signature-Previous: accept either.
    if (!signatureMatches(header('signature'), body) && !signatureMatches(header('signature-previous'), body)) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('invalid signature\n');
      return;
    }
    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('body is not JSON\n');
      return;
    }
    // Deliveries arrive at least once: deduplicate on event.id (also in the
    // <Platform>-Webhook-Id header) before acting.
    console.log(`verified ${event.type} ${event.id} (delivery ${header('delivery')}, attempt ${header('attempt')})`);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
  });
});

server.listen(port, host, () => console.error(`listening on http://${host}:${port}`));
