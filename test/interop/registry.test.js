// The identity registry through the service SDK's Registry (REST).
'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { Devices, registry, rejectsWith, uniqueId } = require('./hub');

test('registry: device create, get, list, update and delete with etags', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('crud');

  const created = await devices.create({ deviceId: id });
  assert.equal(created.deviceId, id);
  assert.equal(created.status, 'enabled');
  assert.equal(created.authentication.type, 'sas');
  assert.ok(created.authentication.symmetricKey.primaryKey, 'the hub generates the primary key');
  assert.ok(created.authentication.symmetricKey.secondaryKey, 'the hub generates the secondary key');
  assert.ok(created.etag, 'a created device has an etag');
  assert.ok(created.generationId, 'a created device has a generationId');

  await rejectsWith(reg.create({ deviceId: id }), 'DeviceAlreadyExistsError', 409);

  const got = (await reg.get(id)).responseBody;
  assert.equal(got.etag, created.etag);
  assert.deepEqual(got.authentication, created.authentication);

  const listed = (await reg.list()).responseBody;
  assert.ok(listed.some((d) => d.deviceId === id && d.etag === created.etag), `${id} listed with its etag`);

  // Registry.update always sends If-Match "*"; the hub answers with the
  // new etag and keeps the keys.
  const updated = (await reg.update({ ...got, status: 'disabled', statusReason: 'maintenance' })).responseBody;
  assert.equal(updated.status, 'disabled');
  assert.equal(updated.statusReason, 'maintenance');
  assert.notEqual(updated.etag, created.etag, 'an update changes the etag');
  assert.equal(updated.generationId, created.generationId);
  assert.deepEqual(updated.authentication, created.authentication);
  assert.equal((await reg.get(id)).responseBody.etag, updated.etag);

  await reg.delete(id);
  await rejectsWith(reg.get(id), 'DeviceNotFoundError', 404);
  await rejectsWith(reg.delete(id), 'DeviceNotFoundError', 404);
  await rejectsWith(reg.update({ ...updated, status: 'enabled' }), 'DeviceNotFoundError', 404);
});

test('registry: a device created with its own keys keeps them', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('keys');
  const keys = {
    primaryKey: Buffer.alloc(32, 1).toString('base64'),
    secondaryKey: Buffer.alloc(32, 2).toString('base64'),
  };

  const created = await devices.create({ deviceId: id, status: 'disabled', authentication: { symmetricKey: keys } });
  assert.equal(created.status, 'disabled');
  assert.deepEqual(created.authentication.symmetricKey, keys);
  assert.deepEqual((await reg.get(id)).responseBody.authentication.symmetricKey, keys);
});

test('registry: module create, get, list, update with etags and remove', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('mod');
  await devices.create({ deviceId: id });

  const added = (await reg.addModule({ deviceId: id, moduleId: 'sensor' })).responseBody;
  assert.equal(added.deviceId, id);
  assert.equal(added.moduleId, 'sensor');
  assert.ok(added.authentication.symmetricKey.primaryKey, 'the hub generates the module key');
  assert.ok(added.etag, 'a created module has an etag');
  await reg.addModule({ deviceId: id, moduleId: 'camera', managedBy: 'ops' });
  await rejectsWith(reg.addModule({ deviceId: id, moduleId: 'sensor' }), 'DeviceAlreadyExistsError', 409);

  const got = (await reg.getModule(id, 'sensor')).responseBody;
  assert.equal(got.etag, added.etag);
  assert.deepEqual(got.authentication, added.authentication);

  const listed = (await reg.getModulesOnDevice(id)).responseBody;
  assert.deepEqual(listed.map((m) => m.moduleId).sort(), ['camera', 'sensor']);
  assert.equal(listed.find((m) => m.moduleId === 'camera').managedBy, 'ops');

  // updateModule is the one etag-conditional identity write of the Node
  // SDK: If-Match carries the module's etag unless forced.
  const updated = (await reg.updateModule({ ...got, managedBy: 'team-a' })).responseBody;
  assert.equal(updated.managedBy, 'team-a');
  assert.notEqual(updated.etag, got.etag, 'an update changes the etag');
  await rejectsWith(reg.updateModule({ ...got, managedBy: 'team-b' }), 'InvalidEtagError', 412);
  const forced = (await reg.updateModule({ ...got, managedBy: 'team-b' }, true)).responseBody;
  assert.equal(forced.managedBy, 'team-b');

  await reg.removeModule(id, 'camera');
  // A missing module's 404 is not DeviceNotFound's body: the SDK makes it
  // a plain Error, as it does against Azure.
  await rejectsWith(reg.getModule(id, 'camera'), 'Error', 404);
  assert.deepEqual((await reg.getModulesOnDevice(id)).responseBody.map((m) => m.moduleId), ['sensor']);
  await rejectsWith(reg.getModulesOnDevice(uniqueId('missing')), 'DeviceNotFoundError', 404);
});

test('registry: bulk addDevices, updateDevices and removeDevices', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const ids = [uniqueId('bulk'), uniqueId('bulk'), uniqueId('bulk')];
  devices.track(...ids);

  const added = (await reg.addDevices([{ deviceId: ids[0] }, { deviceId: ids[1] }, { deviceId: ids[2], status: 'disabled' }])).responseBody;
  assert.equal(added.isSuccessful, true, JSON.stringify(added));
  assert.deepEqual(added.errors, []);
  const got = [];
  for (const id of ids) {
    const d = (await reg.get(id)).responseBody;
    assert.ok(d.authentication.symmetricKey.primaryKey, `${id} has a generated key`);
    got.push(d);
  }
  assert.equal(got[2].status, 'disabled');

  const taken = await rejectsWith(reg.addDevices([{ deviceId: ids[0] }]), 'ArgumentError', 400);
  assert.ok(JSON.stringify(taken.responseBody).includes('DeviceAlreadyExists'), `errors of a bulk create of an existing device: ${taken.responseBody}`);

  // updateDevices without force is UpdateIfMatchETag.
  const updated = (await reg.updateDevices(got.map((d) => ({ ...d, status: 'disabled' })), false)).responseBody;
  assert.deepEqual(updated.errors, [], JSON.stringify(updated));
  for (const id of ids) {
    assert.equal((await reg.get(id)).responseBody.status, 'disabled', `${id} after updateDevices`);
  }
  await rejectsWith(reg.updateDevices([{ ...got[0], status: 'enabled' }], false), 'ArgumentError', 400);

  // removeDevices without force is DeleteIfMatchETag: a stale etag stops it.
  await rejectsWith(reg.removeDevices([got[0]], false), 'ArgumentError', 400);
  const current = [];
  for (const id of ids) {
    current.push((await reg.get(id)).responseBody);
  }
  const removed = (await reg.removeDevices(current, false)).responseBody;
  assert.deepEqual(removed.errors, [], JSON.stringify(removed));
  for (const id of ids) {
    await rejectsWith(reg.get(id), 'DeviceNotFoundError', 404);
  }
});

test('registry: statistics count devices by status', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const before = (await reg.getRegistryStatistics()).responseBody;
  for (const key of ['totalDeviceCount', 'enabledDeviceCount', 'disabledDeviceCount']) {
    assert.equal(typeof before[key], 'number', `${key} in ${JSON.stringify(before)}`);
  }

  await devices.create({ deviceId: uniqueId('stats') });
  await devices.create({ deviceId: uniqueId('stats') });
  await devices.create({ deviceId: uniqueId('stats'), status: 'disabled' });

  const after = (await reg.getRegistryStatistics()).responseBody;
  assert.equal(after.totalDeviceCount, before.totalDeviceCount + 3);
  assert.equal(after.enabledDeviceCount, before.enabledDeviceCount + 2);
  assert.equal(after.disabledDeviceCount, before.disabledDeviceCount + 1);
});
