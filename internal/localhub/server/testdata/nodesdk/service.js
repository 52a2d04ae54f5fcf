// The official Node.js service SDK (azure-iothub), unmodified, against the
// local hub's REST server, driven by TestNodeServiceSDK. The hub is
// HostName=localhost on port 443, trusted through NODE_EXTRA_CA_CERTS. It
// prints "ok <step>" per step, "error <step>: <text>" and exits 1 on the
// first failure, and "done" at the end.
'use strict';
const { Registry, Client } = require('azure-iothub');
const { NoRetry } = require('azure-iot-common');

const cs = process.env.HUB_CS;
const registry = Registry.fromConnectionString(cs);
const service = Client.fromConnectionString(cs);
service.setRetryPolicy(new NoRetry());

let step = '';
const check = (cond, what) => {
  if (!cond) {
    throw new Error(what);
  }
};
const failsWith = async (promise, name, status) => {
  try {
    await promise;
  } catch (err) {
    check(err.constructor.name === name, `got ${err.constructor.name} (${err.message}), want ${name}`);
    if (status) {
      check(err.response && err.response.statusCode === status, `status ${err.response && err.response.statusCode}, want ${status}`);
    }
    return err;
  }
  throw new Error(`succeeded, want ${name}`);
};
const run = async (name, fn) => {
  step = name;
  await fn();
  console.log('ok ' + name);
};

(async () => {
  let device;
  await run('create', async () => {
    device = (await registry.create({ deviceId: 'node-a' })).responseBody;
    check(device.deviceId === 'node-a', 'deviceId ' + device.deviceId);
    check(device.authentication.symmetricKey.primaryKey.length > 0, 'no generated key');
    check(device.etag, 'no etag');
  });
  await run('create existing', () => failsWith(registry.create({ deviceId: 'node-a' }), 'DeviceAlreadyExistsError', 409));
  await run('get', async () => {
    const got = (await registry.get('node-a')).responseBody;
    check(got.authentication.symmetricKey.primaryKey === device.authentication.symmetricKey.primaryKey, 'keys differ');
  });
  await run('get missing', () => failsWith(registry.get('node-missing'), 'DeviceNotFoundError', 404));
  await run('list', async () => {
    const list = (await registry.list()).responseBody;
    check(list.some((d) => d.deviceId === 'node-a'), 'node-a not listed');
  });
  await run('update', async () => {
    const got = (await registry.get('node-a')).responseBody;
    got.status = 'disabled';
    got.statusReason = 'maintenance';
    const updated = (await registry.update(got)).responseBody;
    check(updated.status === 'disabled' && updated.etag !== got.etag, 'not updated: ' + JSON.stringify(updated));
    check(updated.authentication.symmetricKey.primaryKey === device.authentication.symmetricKey.primaryKey, 'keys changed');
    await registry.update({ deviceId: 'node-a', status: 'enabled' });
  });
  await run('twin', async () => {
    const twin = (await registry.getTwin('node-a')).responseBody;
    check(twin.deviceId === 'node-a', 'twin of ' + twin.deviceId);
    const patched = (await registry.updateTwin('node-a', { tags: { site: 'berlin' }, properties: { desired: { interval: 10 } } }, twin.etag)).responseBody;
    check(patched.tags.site === 'berlin' && patched.properties.desired.interval === 10, 'patch not applied: ' + JSON.stringify(patched));
    await failsWith(registry.updateTwin('node-a', { tags: { site: 'paris' } }, twin.etag), 'InvalidEtagError', 412);
    const again = (await registry.getTwin('node-a')).responseBody;
    const updated = (await again.update({ tags: { floor: 3 } })).responseBody;
    check(updated === undefined || updated.tags === undefined || updated.tags.floor === 3, 'Twin.update');
    const latest = (await registry.getTwin('node-a')).responseBody;
    check(latest.tags.floor === 3 && latest.tags.site === 'berlin', 'twin after Twin.update: ' + JSON.stringify(latest.tags));
  });
  await run('bulk', async () => {
    const added = (await registry.addDevices([{ deviceId: 'node-b' }, { deviceId: 'node-c', status: 'disabled' }])).responseBody;
    check(added.isSuccessful && added.errors.length === 0, 'addDevices: ' + JSON.stringify(added));
    const b = (await registry.get('node-b')).responseBody;
    b.status = 'disabled';
    const updated = (await registry.updateDevices([b], false)).responseBody;
    check(updated.errors.length === 0, 'updateDevices: ' + JSON.stringify(updated));
    await failsWith(registry.updateDevices([b], false), 'ArgumentError', 400);
    const removed = (await registry.removeDevices([{ deviceId: 'node-b' }, { deviceId: 'node-c' }], true)).responseBody;
    check(removed.errors.length === 0, 'removeDevices: ' + JSON.stringify(removed));
  });
  await run('query', async () => {
    for (let i = 0; i < 3; i++) {
      await registry.create({ deviceId: 'node-q' + i });
    }
    const query = registry.createQuery("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'node-q')", 2);
    const ids = [];
    let pages = 0;
    while (query.hasMoreResults) {
      check(++pages <= 3, 'the pages never end');
      const page = (await query.nextAsTwin()).result;
      page.forEach((t) => ids.push(t.deviceId));
    }
    check(ids.sort().join(',') === 'node-q0,node-q1,node-q2', 'queried ' + ids.join(','));
    const count = registry.createQuery('SELECT COUNT() AS n FROM devices');
    const rows = (await count.next()).result;
    check(rows[0].n === 4, 'count ' + JSON.stringify(rows));
  });
  await run('statistics', async () => {
    const stats = (await registry.getRegistryStatistics()).responseBody;
    check(stats.totalDeviceCount === 4, 'statistics ' + JSON.stringify(stats));
  });
  await run('modules', async () => {
    await registry.addModule({ deviceId: 'node-a', moduleId: 'sensor' });
    const m = (await registry.getModule('node-a', 'sensor')).responseBody;
    check(m.moduleId === 'sensor' && m.authentication.symmetricKey.primaryKey, 'module ' + JSON.stringify(m));
    m.managedBy = 'ops';
    const updated = (await registry.updateModule(m)).responseBody;
    check(updated.managedBy === 'ops', 'updateModule');
    const mods = (await registry.getModulesOnDevice('node-a')).responseBody;
    check(mods.length === 1, 'getModulesOnDevice ' + mods.length);
    const mt = (await registry.getModuleTwin('node-a', 'sensor')).responseBody;
    const patched = (await registry.updateModuleTwin('node-a', 'sensor', { properties: { desired: { warn: 75 } } }, mt.etag)).responseBody;
    check(patched.properties.desired.warn === 75, 'updateModuleTwin');
    await registry.removeModule('node-a', 'sensor');
    await failsWith(registry.getModule('node-a', 'sensor'), 'Error', 404);
  });
  await run('method', async () => {
    const res = (await service.invokeDeviceMethod('node-a', { methodName: 'reboot', payload: { delay: 1 }, responseTimeoutInSeconds: 5 })).result;
    check(res.status === 201 && res.payload.delay === 1, 'method result ' + JSON.stringify(res));
    // An offline device is a 404 whose body is not DeviceNotFound's: the
    // SDK makes it a plain Error, as it does against Azure.
    const err = await failsWith(service.invokeDeviceMethod('node-q0', { methodName: 'reboot', payload: null }), 'Error', 404);
    check(String(err.responseBody).includes('ErrorCode:DeviceNotOnline;'), 'offline: ' + err.responseBody);
  });
  await run('delete', async () => {
    await registry.delete('node-a');
    await failsWith(registry.get('node-a'), 'DeviceNotFoundError', 404);
  });
  console.log('done');
})().catch((err) => {
  console.log(`error ${step}: ${err && err.message}`);
  process.exit(1);
});
