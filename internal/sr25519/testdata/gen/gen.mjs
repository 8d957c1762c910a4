// gen.mjs makes the second, independent set of sr25519 test vectors for
// package sr25519 with @polkadot/util-crypto (schnorrkel compiled to wasm),
// the library polkadot.js and Bittensor's JS tooling sign with.
//
//   npm install && npm run gen    # writes ../polkadot-vectors.json
//
// sr25519 signatures are randomised: a rerun gives other signature bytes,
// and the Go tests verify them rather than compare them.
import { cryptoWaitReady, sr25519PairFromSeed, sr25519Sign, sr25519Verify, encodeAddress, signatureVerify, blake2AsU8a } from '@polkadot/util-crypto';
import { u8aToHex, stringToU8a, u8aConcat } from '@polkadot/util';
import { createHash } from 'node:crypto';

await cryptoWaitReady();

const hex = (u8) => u8aToHex(u8).slice(2);

// A fixed seed of our own, distinct from the reference vectors' seed.
const seed = blake2AsU8a(stringToU8a('coffer sr25519 test seed'), 256);
const pair = sr25519PairFromSeed(seed);
const other = sr25519PairFromSeed(blake2AsU8a(stringToU8a('coffer sr25519 other seed'), 256));

const hotkey = encodeAddress(pair.publicKey, 42);
const nonce = 1764000000;

function vector(fields, tail) {
  const message = `${hotkey}:${nonce}:${tail}`;
  const msg = stringToU8a(message);
  const wrapped = u8aConcat(stringToU8a('<Bytes>'), msg, stringToU8a('</Bytes>'));
  const sig = sr25519Sign(msg, pair);
  const wsig = sr25519Sign(wrapped, pair);
  // Check with polkadot's own verifiers before writing anything out.
  if (!sr25519Verify(msg, sig, pair.publicKey) || !sr25519Verify(wrapped, wsig, pair.publicKey)) {
    throw new Error('polkadot does not verify its own signature');
  }
  // signatureVerify accepts the <Bytes> form for the plain message, as
  // btwallet's Keypair.verify does.
  if (!signatureVerify(msg, wsig, hotkey).isValid) {
    throw new Error('signatureVerify refuses the wrapped signature');
  }
  return {
    ...fields,
    message,
    signatureHex: hex(sig),
    wrappedMessage: `<Bytes>${message}</Bytes>`,
    wrappedSignatureHex: hex(wsig),
  };
}

const body = '{"purpose":"my-chute","key":"API_TOKEN","value":"v\u00e9rit\u00e9"}';
const bodySha256 = createHash('sha256').update(body, 'utf8').digest('hex');

const out = {
  generator: '@polkadot/util-crypto 14.0.3 (testdata/gen/gen.mjs)',
  seedHex: hex(seed),
  publicKeyHex: hex(pair.publicKey),
  ss58Format: 42,
  hotkey,
  // The same public key under other one-byte SS58 prefixes.
  addresses: [0, 2, 42, 63].map((prefix) => ({ prefix, ss58: encodeAddress(pair.publicKey, prefix) })),
  otherPublicKeyHex: hex(other.publicKey),
  otherHotkey: encodeAddress(other.publicKey, 42),
  nonce,
  vectors: [
    ...['secrets', 'api_keys', 'registry'].map((purpose) => vector({ purpose }, purpose)),
    vector({ body, bodySha256 }, bodySha256),
  ],
  // Signed by the other key over the first vector's message.
  otherSignatureHex: null,
};
out.otherSignatureHex = hex(sr25519Sign(stringToU8a(out.vectors[0].message), other));
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
