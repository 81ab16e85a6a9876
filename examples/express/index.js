// A labhooks webhook receiver for express, the seed page's sample brought up
// to date. For each POST (on / or /hook) it:
//   1. checks x-api-key against the secret, in constant time (as the seed's did);
//   2. verifies webhook-signature, an HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"
//      (Standard Webhooks), with node's own crypto;
//   3. rejects a webhook-timestamp more than 5 minutes from this clock (replays);
//   4. verifies labhooks-signature over the labhooks- headers (the event's id, when it
//      occurred, its entity and its sequence number among that entity's events), and
//      refuses a request whose labhooks- headers were changed;
//   5. skips an event whose webhook-id it already stored (labhooks retries until it gets a 2xx);
//   6. appends each new event as one JSON line to EVENTS_FILE (with eventId, occurredAt,
//      entity and sequence), and answers 200 only then.
//
// Environment: WEBHOOK_SECRET (required; two secrets separated by a space during a
// rotation), PORT (default 3000), HOST (default: every interface), EVENTS_FILE
// (default ./events.jsonl).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const express = require('express')

const DEFAULT_TOLERANCE_SECONDS = 5 * 60
const MAX_BODY = '1mb'

// keyOf returns a secret's HMAC key: a secret beginning with "whsec_" is the
// Standard Webhooks form (base64 of the key); any other secret's key is its UTF-8 bytes.
function keyOf (secret) {
  if (typeof secret !== 'string' || secret === '') throw new Error('invalid secret: the secret is empty')
  if (!secret.startsWith('whsec_')) return Buffer.from(secret, 'utf8')
  const b64 = secret.slice('whsec_'.length)
  // Buffer.from(…, 'base64') skips characters it does not know; check first.
  if (b64 === '' || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new Error('invalid secret: a secret beginning with whsec_ must continue in standard base64')
  }
  return Buffer.from(b64, 'base64')
}

// parseSecrets reads WEBHOOK_SECRET: one secret, or two separated by spaces.
function parseSecrets (value) {
  const secrets = String(value || '').split(/\s+/).filter(Boolean)
  if (secrets.length === 0) throw new Error('invalid secret: WEBHOOK_SECRET is empty')
  for (const s of secrets) keyOf(s)
  return secrets
}

// sign returns the webhook-signature value labhooks sends: one "v1,<base64>" per secret.
function sign (secrets, id, timestamp, body) {
  return secrets.map(s => 'v1,' + crypto.createHmac('sha256', keyOf(s))
    .update(`${id}.${timestamp}.`).update(body).digest('base64')).join(' ')
}

class VerifyError extends Error {
  constructor (code, message) {
    super(message)
    this.code = code
  }
}

// verifySignature checks the webhook-* headers against the raw body (a Buffer
// or string); it throws a VerifyError whose code says which check failed.
function verifySignature (secrets, id, timestamp, signatureHeader, body, nowSeconds, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS) {
  if (!id || !timestamp || !signatureHeader) {
    throw new VerifyError('missing_headers', 'missing webhook-id, webhook-timestamp or webhook-signature')
  }
  if (!/^[0-9]{1,18}$/.test(timestamp)) {
    throw new VerifyError('invalid_timestamp', `webhook-timestamp ${JSON.stringify(timestamp)} is not unix seconds`)
  }
  const age = nowSeconds - Number(timestamp)
  if (age > toleranceSeconds) throw new VerifyError('timestamp_too_old', `webhook-timestamp is ${age}s old, beyond the tolerance of ${toleranceSeconds}s`)
  if (-age > toleranceSeconds) throw new VerifyError('timestamp_too_new', `webhook-timestamp is ${-age}s ahead, beyond the tolerance of ${toleranceSeconds}s`)

  const given = signatureHeader.split(/\s+/).filter(e => e.startsWith('v1,')).map(e => Buffer.from(e.slice(3)))
  if (given.length === 0) throw new VerifyError('no_matching_signature', 'webhook-signature holds no v1 signature')
  let matched = false
  for (const secret of secrets) {
    const expected = Buffer.from(crypto.createHmac('sha256', keyOf(secret))
      .update(`${id}.${timestamp}.`).update(body).digest('base64'))
    for (const sig of given) {
      // timingSafeEqual needs equal lengths; a signature's length is no secret.
      if (sig.length === expected.length && crypto.timingSafeEqual(sig, expected)) matched = true
    }
  }
  if (!matched) throw new VerifyError('no_matching_signature', 'no signature matches the secret')
}

// The labhooks- headers, signed in labhooks-signature: HMAC-SHA256 of
// "labhooks-meta-v1\n<webhook-id>\n<webhook-timestamp>\n<event id>\n<occurred at>\n<entity>\n<sequence>"
// (an absent header is an empty string), "v1,<base64>" per secret, as webhook-signature.
const META_HEADERS = ['labhooks-event-id', 'labhooks-occurred-at', 'labhooks-entity', 'labhooks-sequence']

function metaContent (id, timestamp, meta) {
  return ['labhooks-meta-v1', id, timestamp, meta.eventId || '', meta.occurredAt || '', meta.entity || '', meta.sequence || ''].join('\n')
}

// signMeta returns the labhooks-signature value of meta ({eventId, occurredAt, entity, sequence}, strings).
function signMeta (secrets, id, timestamp, meta) {
  const content = metaContent(id, String(timestamp), meta)
  return secrets.map(s => 'v1,' + crypto.createHmac('sha256', keyOf(s)).update(content).digest('base64')).join(' ')
}

// verifyMeta checks the labhooks- headers (get(name) returns a header) of a
// request whose webhook-signature verified, and returns them typed:
// {eventId, occurredAt (a Date), entity, sequence (a number)}, or null when
// the request has none. A labhooks- header without labhooks-signature, or
// changed on the way, throws no_matching_signature; a malformed one, invalid_meta.
function verifyMeta (secrets, get) {
  const [eventId, occurredAt, entity, sequence] = META_HEADERS.map(h => get(h) || '')
  const signatureHeader = get('labhooks-signature') || ''
  if (!eventId && !occurredAt && !entity && !sequence && !signatureHeader) return null
  if (!signatureHeader) throw new VerifyError('no_matching_signature', 'labhooks- headers came without labhooks-signature')
  const given = signatureHeader.split(/\s+/).filter(e => e.startsWith('v1,')).map(e => Buffer.from(e.slice(3)))
  const content = metaContent(get('webhook-id') || '', get('webhook-timestamp') || '', { eventId, occurredAt, entity, sequence })
  let matched = false
  for (const secret of secrets) {
    const expected = Buffer.from(crypto.createHmac('sha256', keyOf(secret)).update(content).digest('base64'))
    for (const sig of given) {
      if (sig.length === expected.length && crypto.timingSafeEqual(sig, expected)) matched = true
    }
  }
  if (!matched) throw new VerifyError('no_matching_signature', 'labhooks-signature matches no secret: a labhooks- header was changed')
  const when = new Date(occurredAt)
  if (!eventId || Number.isNaN(when.getTime())) throw new VerifyError('invalid_meta', 'labhooks-event-id or labhooks-occurred-at is malformed')
  if (Boolean(entity) !== Boolean(sequence) || (sequence && !/^[1-9][0-9]{0,17}$/.test(sequence))) {
    throw new VerifyError('invalid_meta', 'labhooks-entity and labhooks-sequence (a whole number from 1) come together')
  }
  return { eventId, occurredAt: when, entity: entity || null, sequence: sequence ? Number(sequence) : null }
}

// checkApiKey compares x-api-key with each secret in constant time; a key in
// whsec_ form matches the raw secret it encodes. Hashing first makes both sides
// the same length, so the comparison does not tell the secret's length.
function checkApiKey (secrets, apiKey) {
  if (!apiKey) throw new VerifyError('missing_api_key', 'missing x-api-key')
  let got
  try { got = crypto.createHash('sha256').update(keyOf(apiKey)).digest() } catch { got = Buffer.alloc(32) }
  let ok = false
  for (const s of secrets) {
    if (crypto.timingSafeEqual(got, crypto.createHash('sha256').update(keyOf(s)).digest())) ok = true
  }
  if (!ok) throw new VerifyError('wrong_api_key', 'wrong x-api-key')
}

// loadSeen reads the webhook-ids already in the events file, so a restart
// still recognises redeliveries.
function loadSeen (eventsFile) {
  const seen = new Set()
  let text
  try { text = fs.readFileSync(eventsFile, 'utf8') } catch (err) {
    if (err.code === 'ENOENT') return seen
    throw err
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try { seen.add(JSON.parse(line).webhookId) } catch { /* a line cut short by a crash: its event was never acknowledged */ }
  }
  return seen
}

// appendEvent writes one line and flushes it to disk before returning, so an
// event answered 200 is never lost. Synchronous on purpose: no two requests
// interleave between the duplicate check and the write.
function appendEvent (eventsFile, record) {
  const fd = fs.openSync(eventsFile, 'a')
  try {
    fs.writeSync(fd, JSON.stringify(record) + '\n')
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

// createApp returns the express app. Options: secrets (array), eventsFile,
// toleranceSeconds, now (returns unix seconds), onEvent (called with each new event).
function createApp ({ secrets, eventsFile = './events.jsonl', toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = () => Math.floor(Date.now() / 1000), onEvent = () => {} }) {
  secrets = parseSecrets(Array.isArray(secrets) ? secrets.join(' ') : secrets)
  const seen = loadSeen(eventsFile)
  const app = express()
  app.disable('x-powered-by')

  const fail = (res, status, code, message) => res.status(status).json({ error: { code, message } })

  // express.raw keeps the body's exact bytes, which is what was signed.
  app.post(['/', '/hook'], express.raw({ type: () => true, limit: MAX_BODY }), (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    const id = req.get('webhook-id')
    let meta
    try {
      checkApiKey(secrets, req.get('x-api-key'))
      verifySignature(secrets, id, req.get('webhook-timestamp'), req.get('webhook-signature'), body, now(), toleranceSeconds)
      meta = verifyMeta(secrets, name => req.get(name))
    } catch (err) {
      if (err instanceof VerifyError) return fail(res, err.code === 'invalid_meta' ? 400 : 401, err.code, err.message)
      throw err
    }

    let event
    try { event = JSON.parse(body.toString('utf8')) } catch { event = null }
    if (!event || typeof event !== 'object' || typeof event.eventName !== 'string' || !/^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/.test(event.eventName) ||
        !event.data || typeof event.data !== 'object' || Array.isArray(event.data)) {
      return fail(res, 400, 'not_an_event', 'the body is not {"eventName": "…", "data": {…}}')
    }

    if (seen.has(id)) return res.status(200).json({ status: 'duplicate', webhookId: id })
    const record = {
      webhookId: id,
      eventName: event.eventName,
      data: event.data,
      webhookTimestamp: Number(req.get('webhook-timestamp')),
      receivedAt: new Date().toISOString()
    }
    if (meta) {
      // A higher sequence for the same entity is a newer state of it.
      Object.assign(record, { eventId: meta.eventId, occurredAt: meta.occurredAt.toISOString(), entity: meta.entity, sequence: meta.sequence })
    }
    try {
      onEvent(record) // call your action here: save to your database, etc.
      appendEvent(eventsFile, record)
    } catch (err) {
      console.error('storing', id, 'failed:', err)
      return fail(res, 500, 'store_failed', 'storing the event failed; retry later') // labhooks retries
    }
    seen.add(id)
    res.status(200).json({ status: 'stored', webhookId: id }) // responding 2xx is important
  })

  // A body over the limit, or one the parser refuses, still gets a JSON answer.
  app.use((err, req, res, next) => {
    if (err.type === 'entity.too.large') return fail(res, 413, 'body_too_large', 'the body is too large')
    console.error(err)
    fail(res, err.status && err.status < 500 ? err.status : 500, 'internal', 'internal error')
  })
  return app
}

module.exports = { createApp, verifySignature, verifyMeta, signMeta, checkApiKey, sign, keyOf, parseSecrets, VerifyError }

if (require.main === module) {
  const PORT = Number(process.env.PORT || 3000)
  let secrets
  try {
    secrets = parseSecrets(process.env.WEBHOOK_SECRET)
  } catch (err) {
    console.error(`${err.message}: set WEBHOOK_SECRET to your data link's secret (two, space-separated, during a rotation)`)
    process.exit(2)
  }
  const eventsFile = process.env.EVENTS_FILE || './events.jsonl'
  const app = createApp({ secrets, eventsFile })
  const server = app.listen(PORT, process.env.HOST || undefined, () => console.log(`🚀 Server running on port ${server.address().port}, appending events to ${eventsFile}`))
  const stop = () => server.close(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
