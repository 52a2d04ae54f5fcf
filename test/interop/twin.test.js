// Device twins and queries through the service SDK's Registry (REST).
'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const { Twin } = require('azure-iothub');
const { Devices, registry, rejectsWith, uniqueId } = require('./hub');

test('twin: get and update tags and desired properties with etags', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('twin');
  await devices.create({ deviceId: id });

  const twin = (await reg.getTwin(id)).responseBody;
  assert.ok(twin instanceof Twin, 'getTwin gives a Twin');
  assert.equal(twin.deviceId, id);
  assert.ok(twin.etag, 'a twin has an etag');
  assert.deepEqual(twin.tags, {});
  assert.equal(twin.properties.desired.$version, 1);

  const patched = (await reg.updateTwin(id, { tags: { site: 'berlin' }, properties: { desired: { interval: 10, mode: { fast: true } } } }, twin.etag)).responseBody;
  assert.deepEqual(patched.tags, { site: 'berlin' });
  assert.equal(patched.properties.desired.interval, 10);
  assert.deepEqual(patched.properties.desired.mode, { fast: true });
  assert.equal(patched.properties.desired.$version, 2);
  assert.notEqual(patched.etag, twin.etag, 'an update changes the etag');

  // A patch merges; null removes a key. '*' matches any etag.
  const merged = (await reg.updateTwin(id, { tags: { floor: 3 }, properties: { desired: { mode: null } } }, '*')).responseBody;
  assert.deepEqual(merged.tags, { site: 'berlin', floor: 3 });
  assert.equal(merged.properties.desired.interval, 10);
  assert.equal(merged.properties.desired.mode, undefined);

  // Twin.update: the SDK's own read-modify-write with the twin's etag.
  const read = (await reg.getTwin(id)).responseBody;
  await read.update({ tags: { owner: 'ops' } });
  const latest = (await reg.getTwin(id)).responseBody;
  assert.deepEqual(latest.tags, { site: 'berlin', floor: 3, owner: 'ops' });
  assert.equal(latest.properties.desired.$version, 3);

  await rejectsWith(reg.getTwin(uniqueId('missing')), 'DeviceNotFoundError', 404);
});

test('twin: an update with a stale etag is refused with 412', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('etag');
  await devices.create({ deviceId: id });

  const stale = (await reg.getTwin(id)).responseBody;
  await reg.updateTwin(id, { tags: { site: 'berlin' } }, stale.etag);
  const err = await rejectsWith(reg.updateTwin(id, { tags: { site: 'paris' } }, stale.etag), 'InvalidEtagError', 412);
  assert.ok(String(err.responseBody).includes('PreconditionFailed'), `412 body: ${err.responseBody}`);
  await rejectsWith(stale.update({ tags: { site: 'paris' } }), 'InvalidEtagError', 412);
  assert.deepEqual((await reg.getTwin(id)).responseBody.tags, { site: 'berlin' }, 'the refused updates changed nothing');
});

test('twin: module twin get and update', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('mtwin');
  await devices.create({ deviceId: id });
  await reg.addModule({ deviceId: id, moduleId: 'sensor' });

  const twin = (await reg.getModuleTwin(id, 'sensor')).responseBody;
  assert.equal(twin.deviceId, id);
  assert.equal(twin.moduleId, 'sensor');
  const patched = (await reg.updateModuleTwin(id, 'sensor', { properties: { desired: { warn: 75 } } }, twin.etag)).responseBody;
  assert.equal(patched.properties.desired.warn, 75);
  await rejectsWith(reg.updateModuleTwin(id, 'sensor', { properties: { desired: { warn: 80 } } }, twin.etag), 'InvalidEtagError', 412);
});

test('query: pages of twins until hasMoreResults is false', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const prefix = uniqueId('query');
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push(`${prefix}-${i}`);
  }
  devices.track(...ids);
  const added = (await reg.addDevices(ids.map((deviceId) => ({ deviceId })))).responseBody;
  assert.deepEqual(added.errors, []);
  await reg.updateTwin(ids[4], { tags: { odd: true } }, '*');

  const query = reg.createQuery(`SELECT * FROM devices WHERE STARTSWITH(deviceId, '${prefix}')`, 2);
  const pages = [];
  while (query.hasMoreResults) {
    assert.ok(pages.length < ids.length, 'the pages never end');
    const page = (await query.nextAsTwin()).result;
    page.forEach((twin) => assert.ok(twin instanceof Twin, 'nextAsTwin gives Twins'));
    pages.push(page.map((twin) => twin.deviceId));
  }
  assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
  assert.deepEqual(pages.flat().sort(), ids);

  const tagged = (await reg.createQuery(`SELECT * FROM devices WHERE STARTSWITH(deviceId, '${prefix}') AND tags.odd = true`).nextAsTwin()).result;
  assert.deepEqual(tagged.map((twin) => twin.deviceId), [ids[4]]);

  const count = reg.createQuery(`SELECT COUNT() AS n FROM devices WHERE STARTSWITH(deviceId, '${prefix}')`);
  assert.deepEqual((await count.next()).result, [{ n: 5 }]);
  assert.equal(count.hasMoreResults, false);
});
