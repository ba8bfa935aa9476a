<?php
/**
 * A pathhook webhook receiver in plain PHP: the snippet from the original
 * docs, made safe.
 *
 *   WEBHOOK_SECRET='your webhook secret' php -S 127.0.0.1:4000 receiver.php
 *
 * Set PLATFORM if your platform is not Falkor (ByteKast, TrainiApp, ...):
 * it names the headers. In your own app, keep the two functions and the
 * checks; the rest is this example's server.
 *
 * What the original snippet lacked, and this adds:
 *   - hash_equals, so that the comparison takes the same time whatever the
 *     signature sent (== leaks, byte by byte, how much of it was right);
 *   - a check that the header exists and starts with "sha256=", instead of
 *     reading element [1] of whatever explode() returns;
 *   - the raw body from php://input, never $_POST or a json_decode'd and
 *     re-encoded copy: the signature covers the exact bytes sent;
 *   - the previous-secret header, so deliveries keep verifying while the
 *     webhook's secret is being rotated.
 */

$secret   = getenv('WEBHOOK_SECRET');
$platform = getenv('PLATFORM') ?: 'Falkor';

/** The value of request header $name, or null when it was not sent. */
function request_header(string $name): ?string
{
    $key = 'HTTP_' . strtoupper(str_replace('-', '_', $name));
    return isset($_SERVER[$key]) && is_string($_SERVER[$key]) ? $_SERVER[$key] : null;
}

/** Whether $header is "sha256=" and the HMAC-SHA256 hex of $body under $secret. */
function signature_matches(?string $header, string $body, string $secret): bool
{
    if ($header === null || strncmp($header, 'sha256=', 7) !== 0) {
        return false;
    }
    $expected = 'sha256=' . hash_hmac('sha256', $body, $secret);
    return hash_equals($expected, $header);
}

if ($secret === false || $secret === '') {
    // Without a secret anyone could sign: refuse everything.
    error_log('receiver.php: WEBHOOK_SECRET is not set');
    http_response_code(500);
    exit;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    header('Allow: POST');
    exit;
}

$body   = file_get_contents('php://input');
$prefix = $platform . '-Webhook-';

if (!signature_matches(request_header($prefix . 'Signature'), $body, $secret)
    && !signature_matches(request_header($prefix . 'Signature-Previous'), $body, $secret)) {
    http_response_code(401);
    header('Content-Type: text/plain');
    echo "invalid signature\n";
    exit;
}

// Verified: now the body can be trusted and decoded.
$event = json_decode($body, true);
if (!is_array($event)) {
    http_response_code(400);
    exit;
}

// Deliveries arrive at least once: deduplicate on the event id
// ($event['id'], also in the <Platform>-Webhook-Id header) before acting.
file_put_contents('php://stderr', sprintf(
    "verified %s %s (delivery %s, attempt %s)\n",
    $event['type'] ?? '?',
    $event['id'] ?? '?',
    request_header($prefix . 'Delivery') ?? '?',
    request_header($prefix . 'Attempt') ?? '?'
));

http_response_code(200);
header('Content-Type: text/plain');
echo "ok\n";
