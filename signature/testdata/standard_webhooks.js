// An independent Standard Webhooks implementation, from the published
// algorithm (https://www.standardwebhooks.com), Node.js built-ins only.
//
//   node standard_webhooks.js sign   SECRET ID TIMESTAMP      < body
//   node standard_webhooks.js verify SECRET ID TIMESTAMP SIGS < body
//
// SECRET is "whsec_" and base64. sign prints "v1,<base64>"; verify prints
// "valid" and exits 0, or prints why not and exits 1. verify checks the
// timestamp against this machine's clock with a 5 minute tolerance.
'use strict';
const crypto = require('crypto');

const TOLERANCE = 5 * 60;

function key(secret) {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

function digest(secret, id, timestamp, body) {
  return crypto.createHmac('sha256', key(secret))
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest();
}

function verify(secret, id, timestamp, sigs, body) {
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE) {
    return 'timestamp outside tolerance';
  }
  const want = digest(secret, id, timestamp, body);
  for (const entry of sigs.split(' ')) {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || !sig) continue;
    const got = Buffer.from(sig, 'base64');
    if (got.length === want.length && crypto.timingSafeEqual(got, want)) return null;
  }
  return 'no matching signature';
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const body = Buffer.concat(chunks);
  const [cmd, secret, id, timestamp, sigs] = process.argv.slice(2);
  if (cmd === 'sign') {
    console.log('v1,' + digest(secret, id, timestamp, body).toString('base64'));
    return;
  }
  const problem = verify(secret, id, timestamp, sigs, body);
  console.log(problem || 'valid');
  process.exitCode = problem ? 1 : 0;
});
