// Automatic device configurations through the service SDK's Registry
// (REST): create, read, list, update with etags, delete; and a
// configuration's content reaching a connected device.
'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Devices, deviceClient, registry, rejectsWith, uniqueId } = require('./hub');

/** A configuration ID no other test or run uses, removed when the test ends. */
function configurationId(t, reg) {
  const id = uniqueId('config');
  t.after(async () => {
    try {
      await reg.removeConfiguration(id);
    } catch (err) {
      if (!err.response || err.response.statusCode !== 404) {
        throw err;
      }
    }
  });
  return id;
}

/**
 * Listens for desired-property patches on the device twin and returns, once
 * the device has subscribed to them (twin.enableTwinDesiredPropertiesUpdates
 * calls back on SUBACK), a function that resolves when the twin's desired
 * properties, patches merged, satisfy a condition.
 */
async function desiredWatch(twin) {
  const waiting = new Set();
  twin.on('properties.desired', () => {
    for (const w of waiting) {
      if (w.cond(twin.properties.desired)) {
        waiting.delete(w);
        w.resolve();
      }
    }
  });
  await new Promise((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates((err) => (err ? reject(err) : resolve())));
  return (cond) => new Promise((resolve) => waiting.add({ cond, resolve }));
}

test('configurations: add, get, list, update with etags and remove', async (t) => {
  const reg = registry();
  const id = configurationId(t, reg);
  const config = {
    id,
    content: { deviceContent: { 'properties.desired.telemetry': { interval: 30, enabled: true } } },
    targetCondition: `tags.interopConfig = '${id}'`,
    priority: 20,
    labels: { team: 'interop' },
  };

  const added = (await reg.addConfiguration(config)).responseBody;
  assert.equal(added.id, id);
  assert.deepEqual(added.content.deviceContent, config.content.deviceContent);
  assert.ok(added.etag, 'a created configuration has an etag');
  await rejectsWith(reg.addConfiguration(config), 'DeviceAlreadyExistsError', 409);

  const got = (await reg.getConfiguration(id)).responseBody;
  assert.equal(got.etag, added.etag);
  assert.equal(got.priority, 20);
  assert.equal(got.targetCondition, config.targetCondition);
  assert.deepEqual(got.labels, { team: 'interop' });
  assert.deepEqual(got.content.deviceContent, config.content.deviceContent);

  const listed = (await reg.getConfigurations()).responseBody;
  assert.ok(listed.some((c) => c.id === id), `${id} listed`);

  // updateConfiguration sends the configuration's etag in If-Match, unless
  // forced.
  await reg.updateConfiguration({ ...got, priority: 99 });
  const updated = (await reg.getConfiguration(id)).responseBody;
  assert.equal(updated.priority, 99);
  assert.notEqual(updated.etag, got.etag, 'an update changes the etag');
  await rejectsWith(reg.updateConfiguration({ ...got, priority: 5 }), 'InvalidEtagError', 412);
  await reg.updateConfiguration({ ...got, priority: 7 }, true);
  assert.equal((await reg.getConfiguration(id)).responseBody.priority, 7);

  await reg.removeConfiguration(id);
  await rejectsWith(reg.getConfiguration(id), 'Error', 404);
});

test('configurations: the content reaches the devices the target condition names', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = configurationId(t, reg);
  const deviceId = uniqueId('configured');
  const device = await devices.create({ deviceId });
  await reg.updateTwin(deviceId, { tags: { interopConfig: id } }, '*');

  const client = await devices.open(deviceClient(device, Mqtt));
  const twin = await client.getTwin();
  const desired = await desiredWatch(twin);

  const applied = desired((d) => d.firmware !== undefined);
  await reg.addConfiguration({
    id,
    content: { deviceContent: { 'properties.desired.firmware': { version: '2.0', channel: 'stable' } } },
    targetCondition: `tags.interopConfig = '${id}'`,
    priority: 10,
  });
  await applied;
  assert.deepEqual(twin.properties.desired.firmware, { version: '2.0', channel: 'stable' });
  assert.deepEqual((await reg.getTwin(deviceId)).responseBody.properties.desired.firmware, { version: '2.0', channel: 'stable' });

  // Removed, the configuration takes its content away.
  const removed = desired((d) => d.firmware === undefined);
  await reg.removeConfiguration(id);
  await removed;
  assert.equal((await reg.getTwin(deviceId)).responseBody.properties.desired.firmware, undefined);
});
