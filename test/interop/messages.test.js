// Device-to-cloud and cloud-to-device messages of the device SDK.
//
// Azure's service side of both is AMQP (cloud-to-device sends, the Event
// Hubs-compatible endpoint), which `hub serve` does not speak; the service
// SDK cannot take part. The hub's local REST extension stands in for it
// here: POST /$local/devices/{id}/messages/devicebound queues a message,
// GET /$local/events streams what devices send. The device side is the
// unmodified SDK.
'use strict';
const assert = require('node:assert/strict');
const https = require('node:https');
const readline = require('node:readline');
const { test } = require('node:test');
const { ConnectionString, SharedAccessSignature } = require('azure-iothub');
const { Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { Devices, connectionString, deviceClient, registry, uniqueId } = require('./hub');

const apiVersion = '2021-04-12';

/**
 * A request to the hub's REST API (HTTPS on port 443 of HostName), signed
 * with the owner policy as the service SDK signs its own. It resolves with
 * the response once its headers have come.
 */
function request(method, path, body) {
  const cs = ConnectionString.parse(connectionString);
  const sas = SharedAccessSignature.create(cs.HostName, cs.SharedAccessKeyName, cs.SharedAccessKey, Math.floor(Date.now() / 1000) + 3600);
  const headers = { Authorization: sas.toString() };
  let data;
  if (body !== undefined) {
    data = JSON.stringify(body);
    headers['Content-Type'] = 'application/json; charset=utf-8';
    headers['Content-Length'] = Buffer.byteLength(data);
  }
  const sep = path.includes('?') ? '&' : '?';
  return new Promise((resolve, reject) => {
    const req = https.request({ host: cs.HostName, method, path: `${path}${sep}api-version=${apiVersion}`, headers }, resolve);
    req.on('error', reject);
    req.end(data);
  });
}

/** Queues a cloud-to-device message through the local extension. */
async function sendC2D(deviceId, message) {
  const res = await request('POST', `/$local/devices/${encodeURIComponent(deviceId)}/messages/devicebound`, message);
  res.resume();
  assert.equal(res.statusCode, 204, 'status of a cloud-to-device send');
}

/**
 * Opens the local extension's event stream of one device, and returns once
 * the hub has answered (from then on it streams what the device sends),
 * with a function that resolves with the next event, and one that closes
 * the stream.
 */
async function eventStream(t, deviceId) {
  const res = await request('GET', `/$local/events?deviceId=${encodeURIComponent(deviceId)}`);
  t.after(() => res.destroy());
  assert.equal(res.statusCode, 200, 'status of the event stream');
  assert.match(res.headers['content-type'], /^application\/x-ndjson/);
  const lines = readline.createInterface({ input: res, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return async () => {
    for (;;) {
      const { value, done } = await lines.next();
      assert.ok(!done, 'the event stream ended');
      if (value.trim() !== '') {
        return JSON.parse(value);
      }
    }
  };
}

for (const transport of [Mqtt, MqttWs]) {
  test(`device over ${transport.name}: device-to-cloud and cloud-to-device messages`, async (t) => {
    const reg = registry();
    const devices = new Devices(reg);
    t.after(() => devices.deleteAll());
    const id = uniqueId(`msg-${transport.name.toLowerCase()}`);
    const device = await devices.create({ deviceId: id });
    const client = await devices.open(deviceClient(device, transport));

    // Device to cloud: sendEvent returns once the hub has taken the message
    // (PUBACK).
    const nextEvent = await eventStream(t, id);
    const event = new Message(JSON.stringify({ temperature: 21.5 }));
    event.messageId = 'event-1';
    event.correlationId = 'corr-1';
    event.contentType = 'application/json';
    event.contentEncoding = 'utf-8';
    event.properties.add('alert level', 'a&b=c');
    await client.sendEvent(event);
    const got = await nextEvent();
    assert.equal(got.deviceId, id);
    assert.deepEqual(JSON.parse(got.body), { temperature: 21.5 });
    assert.equal(got.properties['alert level'], 'a&b=c');
    assert.equal(got.systemProperties.mid, 'event-1');
    assert.equal(got.systemProperties.cid, 'corr-1');
    assert.equal(got.systemProperties.ct, 'application/json');
    assert.equal(got.systemProperties.ce, 'utf-8');

    // Cloud to device: the hub holds the message until the device has
    // subscribed, and the device completes it.
    const received = new Promise((resolve) => client.on('message', (msg) => {
      client.complete(msg, () => {});
      resolve(msg);
    }));
    await sendC2D(id, {
      body: 'hello device',
      messageId: 'c2d-1',
      correlationId: 'corr-2',
      properties: { 'alert level': 'x&y=z', room: '42' },
    });
    const msg = await received;
    assert.equal(msg.data.toString(), 'hello device');
    assert.equal(msg.messageId, 'c2d-1');
    assert.equal(msg.correlationId, 'corr-2');
    assert.equal(msg.properties.getValue('alert level'), 'x&y=z');
    assert.equal(msg.properties.getValue('room'), '42');
  });
}
