<?php
// The receiver code of the original docs, exactly as they give it, so that
// a test can check the promise that it accepts every pathhook delivery as
// it stands. The only additions are the two echo lines, which show the
// outcome. Do not copy this file: receiver.php is the safe version.
//
//   php -S 127.0.0.1:4000 seed_verbatim.php

/**
* Consume the header and signature sent by Falkor. The signature
* will be generated using HMAC SHA256 with the provided shared
* secret.
*/

$payloadSignature = explode('sha256=',$_SERVER['HTTP_FALKOR_WEBHOOK_SIGNATURE']);
$payloadData      = file_get_contents('php://input');


/**
* Rebuild the matching signature using the same shared secret
* and the payload sent by Falkor.
*/

$yourSecretToken = 'ff820d62b80b7c2789286f691b5e89bd';

// Rebuild Matching Signature
$matchSignature  = hash_hmac('sha256', $payloadData, $yourSecretToken);


/**
* Check the sent signature matches the rebuilt signature.
*/

if ($payloadSignature[1] == $matchSignature):
   // Signature Matched
   echo "match";
else:
   // Did Not Match
   echo "no match";
endif;
