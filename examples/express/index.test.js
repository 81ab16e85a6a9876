'use strict'
// Run with `node --test` (no dependency beyond express).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { createApp, verifySignature, verifyMeta, signMeta, sign, parseSecrets, checkApiKey } = require('./index.js')

const vectorsFile = path.join(__dirname, '..', '..', 'signature', 'testdata', 'vectors.json')
const { vectors } = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'))

test('the shared signing vectors', async t => {
  assert.ok(vectors.length >= 20)
  for (const v of vectors) {
    await t.test(v.name, () => {
      if (v.error === 'invalid_secret') {
        assert.throws(() => parseSecrets(v.secrets.join(' ')), /invalid secret/)
        return
      }
      if (v.signed) assert.equal(sign(v.secrets, v.id, Number(v.timestamp), Buffer.from(v.body, 'utf8')), v.signature)
      const run = () => verifySignature(v.secrets, v.id, v.timestamp, v.signature, Buffer.from(v.body, 'utf8'), v.now, v.toleranceSeconds)
      if (v.valid) run()
      else assert.throws(run, err => err.code === v.error)
    })
  }
})

const metaVectorsFile = path.join(__dirname, '..', '..', 'signature', 'testdata', 'meta_vectors.json')

test('the shared labhooks-signature vectors', async t => {
  const { vectors: metaVectors } = JSON.parse(fs.readFileSync(metaVectorsFile, 'utf8'))
  assert.ok(metaVectors.length >= 5)
  for (const v of metaVectors) {
    await t.test(v.name, () => {
      const headers = {
        'webhook-id': v.id,
        'webhook-timestamp': v.timestamp,
        'labhooks-event-id': v.meta.EventID,
        'labhooks-occurred-at': v.meta.OccurredAt,
        'labhooks-entity': v.meta.Entity,
        'labhooks-sequence': v.meta.Sequence,
        'labhooks-signature': v.signature
      }
      const run = () => verifyMeta(v.secrets, name => headers[name])
      if (!v.valid) return assert.throws(run, { code: 'no_matching_signature' })
      const meta = run()
      assert.equal(meta.eventId, v.meta.EventID)
      assert.equal(meta.occurredAt.toISOString(), new Date(v.meta.OccurredAt).toISOString())
      assert.equal(meta.sequence, v.meta.Sequence ? Number(v.meta.Sequence) : null)
    })
  }
})

test('x-api-key', () => {
  const secrets = ['mysecretkey', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']
  checkApiKey(secrets, 'mysecretkey')
  checkApiKey(secrets, 'whsec_bXlzZWNyZXRrZXk=') // mysecretkey in whsec_ form
  checkApiKey(secrets, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
  assert.throws(() => checkApiKey(secrets, 'mysecretke'), { code: 'wrong_api_key' })
  assert.throws(() => checkApiKey(secrets, 'whsec_***'), { code: 'wrong_api_key' })
  assert.throws(() => checkApiKey(secrets, undefined), { code: 'missing_api_key' })
})

const SECRET = 'a-long-difficult-secret-0123456789'
const appointment = JSON.stringify({ eventName: 'appointmentCreated', data: { dashboardUrl: 'https://dashboard.daslab.app/samplers/123/appointments/123', userUrl: 'https://web.daslab.app/appointments/123', appointmentId: 123, locationId: 123, datetime: '2020-11-16 10:00:00+00', paymentMethod: 'stripe' } })

// deliver POSTs like labhooks (SPEC §3) and returns [status, answer].
async function deliver (base, { id, body = appointment, secrets = [SECRET], apiKey = secrets[0], ts = Math.floor(Date.now() / 1000), urlPath = '/hook', tamper, meta, tamperHeaders } = {}) {
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'labhooks/test',
    'x-api-key': apiKey,
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': sign(secrets, id, ts, Buffer.from(body, 'utf8'))
  }
  if (meta) {
    Object.assign(headers, { 'labhooks-event-id': meta.eventId, 'labhooks-occurred-at': meta.occurredAt, 'labhooks-signature': signMeta(secrets, id, ts, meta) })
    if (meta.entity) Object.assign(headers, { 'labhooks-entity': meta.entity, 'labhooks-sequence': meta.sequence })
  }
  if (tamperHeaders) tamperHeaders(headers)
  const res = await fetch(base + urlPath, { method: 'POST', headers, body: tamper ? tamper(body) : body })
  return [res.status, await res.json()]
}

function tmpFile (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labhooks-express-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, 'events.jsonl')
}

async function listen (t, app) {
  const server = await new Promise(resolve => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  t.after(() => new Promise(resolve => server.close(resolve)))
  return `http://127.0.0.1:${server.address().port}`
}

const lines = file => fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l)) : []

test('a real server on 127.0.0.1', async t => {
  const file = tmpFile(t)
  const base = await listen(t, createApp({ secrets: [SECRET], eventsFile: file }))

  await t.test('stores an event, once', async () => {
    assert.deepEqual(await deliver(base, { id: 'dlv_1' }), [200, { status: 'stored', webhookId: 'dlv_1' }])
    assert.deepEqual(await deliver(base, { id: 'dlv_1', ts: Math.floor(Date.now() / 1000) + 1 }), [200, { status: 'duplicate', webhookId: 'dlv_1' }])
    const got = lines(file)
    assert.equal(got.length, 1)
    assert.equal(got[0].webhookId, 'dlv_1')
    assert.equal(got[0].eventName, 'appointmentCreated')
    assert.equal(got[0].data.appointmentId, 123)
  })
  await t.test('accepts POSTs on /', async () => {
    assert.equal((await deliver(base, { id: 'dlv_root', urlPath: '/' }))[0], 200)
  })
  for (const [name, opts, status, code] of [
    ['tampered body', { tamper: b => b.replace('123', '124') }, 401, 'no_matching_signature'],
    ['wrong secret', { secrets: ['another-secret-0123456789'] }, 401, 'wrong_api_key'],
    ['right key, signed with another secret', { secrets: ['another-secret-0123456789'], apiKey: SECRET }, 401, 'no_matching_signature'],
    ['stale timestamp', { ts: Math.floor(Date.now() / 1000) - 600 }, 401, 'timestamp_too_old'],
    ['timestamp from the future', { ts: Math.floor(Date.now() / 1000) + 600 }, 401, 'timestamp_too_new'],
    ['not an event', { body: '{"hello":1}' }, 400, 'not_an_event'],
    ['not JSON', { body: 'hello' }, 400, 'not_an_event']
  ]) {
    await t.test(name, async () => {
      const [s, answer] = await deliver(base, { id: 'dlv_bad_' + name.replace(/\W/g, '_'), ...opts })
      assert.equal(s, status)
      assert.equal(answer.error.code, code)
    })
  }
  const meta = { eventId: 'evt_1', occurredAt: '2026-03-01T09:30:00.250Z', entity: 'appointment:123', sequence: '7' }
  await t.test('verifies and keeps the labhooks- headers', async () => {
    assert.equal((await deliver(base, { id: 'dlv_meta', meta }))[0], 200)
    const got = lines(file).find(l => l.webhookId === 'dlv_meta')
    assert.deepEqual([got.eventId, got.occurredAt, got.entity, got.sequence], ['evt_1', '2026-03-01T09:30:00.250Z', 'appointment:123', 7])
  })
  for (const [name, tamperHeaders] of [
    ['a raised labhooks-sequence', h => { h['labhooks-sequence'] = '8' }],
    ['another labhooks-entity', h => { h['labhooks-entity'] = 'appointment:124' }],
    ['labhooks-signature removed', h => { delete h['labhooks-signature'] }]
  ]) {
    await t.test(name, async () => {
      const [s, answer] = await deliver(base, { id: 'dlv_meta_bad', meta, tamperHeaders })
      assert.equal(s, 401)
      assert.equal(answer.error.code, 'no_matching_signature')
    })
  }
  await t.test('only accepted events reach the file', () => {
    assert.deepEqual(lines(file).map(l => l.webhookId), ['dlv_1', 'dlv_root', 'dlv_meta'])
  })
})

test('a rotation: both secrets accepted', async t => {
  const file = tmpFile(t)
  const [oldS, newS] = ['the-old-secret-0123456789', 'the-new-secret-9876543210']
  const base = await listen(t, createApp({ secrets: `${newS} ${oldS}`, eventsFile: file }))
  assert.equal((await deliver(base, { id: 'a', secrets: [oldS] }))[0], 200)
  assert.equal((await deliver(base, { id: 'b', secrets: [newS, oldS] }))[0], 200)
  assert.equal((await deliver(base, { id: 'c', secrets: [newS] }))[0], 200)
  assert.equal(lines(file).length, 3)
})

test('a restart still recognises redeliveries', async t => {
  const file = tmpFile(t)
  const first = createApp({ secrets: [SECRET], eventsFile: file })
  assert.equal((await deliver(await listen(t, first), { id: 'dlv_r' }))[0], 200)
  const base = await listen(t, createApp({ secrets: [SECRET], eventsFile: file }))
  assert.deepEqual(await deliver(base, { id: 'dlv_r' }), [200, { status: 'duplicate', webhookId: 'dlv_r' }])
  assert.equal(lines(file).length, 1)
})

test('index.js run as a program, configured from the environment', async t => {
  const file = tmpFile(t)
  const child = spawn(process.execPath, [path.join(__dirname, 'index.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', WEBHOOK_SECRET: `${SECRET} whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, EVENTS_FILE: file },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.after(() => child.kill())
  const port = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', d => {
      out += d
      const m = out.match(/port (\d+)/)
      if (m) resolve(m[1])
    })
    child.on('exit', code => reject(new Error(`index.js exited with ${code}: ${out}`)))
  })
  const base = `http://127.0.0.1:${port}`
  assert.equal((await deliver(base, { id: 'dlv_p1' }))[0], 200)
  assert.equal((await deliver(base, { id: 'dlv_p2', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }))[0], 200)
  assert.equal((await deliver(base, { id: 'dlv_p3', secrets: ['nope-nope-nope'] }))[0], 401)
  assert.deepEqual(lines(file).map(l => l.webhookId), ['dlv_p1', 'dlv_p2'])
})
