// Devices on the device SDK (azure-iot-device + azure-iot-device-mqtt),
// driven through the service SDK: twins, desired-property patches and
// direct methods, over MQTT and over MQTT on WebSocket; and the
// connections the hub refuses.
'use strict';
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { test } = require('node:test');
const { Client: DeviceClient, ModuleClient, X509AuthenticationProvider } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { NoRetry } = require('azure-iot-common');
const { Devices, deviceClient, deviceConnectionString, hostName, mqttHost, registry, rejectsWith, serviceClient, uniqueId } = require('./hub');

// How long the hub waits for a device to subscribe to direct methods:
// the SDK's onDeviceMethod gives no signal when its subscription is done,
// and the hub holds a call until the device has subscribed, up to this.
const connectTimeoutInSeconds = 30;

/**
 * Listens for desired-property patches on twin, returns once the device has
 * subscribed to them, and gives a function that resolves with the patch of
 * a desired $version. The twin's listener subscribes through
 * twin.enableTwinDesiredPropertiesUpdates, which calls back on SUBACK; a
 * second call waits for the same subscription.
 */
async function desiredPatches(twin) {
  const waiting = new Map();
  twin.on('properties.desired', (patch) => {
    // A new listener is also told the desired properties the twin holds
    // already: only patches awaited by version count.
    const resolve = waiting.get(patch.$version);
    if (resolve) {
      waiting.delete(patch.$version);
      resolve(patch);
    }
  });
  await new Promise((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates((err) => (err ? reject(err) : resolve())));
  return (version) => new Promise((resolve) => waiting.set(version, resolve));
}

/** Reports properties and waits for the hub's answer. */
function report(twin, patch) {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (err) => (err ? reject(err) : resolve())));
}

for (const transport of [Mqtt, MqttWs]) {
  test(`device over ${transport.name}: twin, reported and desired properties, direct method`, async (t) => {
    const reg = registry();
    const service = serviceClient();
    const devices = new Devices(reg);
    t.after(() => devices.deleteAll());
    const id = uniqueId(transport.name.toLowerCase());
    const device = await devices.create({ deviceId: id });
    await reg.updateTwin(id, { properties: { desired: { interval: 10 } } }, '*');

    const client = await devices.open(deviceClient(device, transport));

    // The twin as the device reads it.
    const twin = await client.getTwin();
    assert.equal(twin.properties.desired.interval, 10);
    assert.equal(twin.properties.desired.$version, 2);
    assert.equal(twin.properties.reported.$version, 1);

    // Reported properties, as the service reads them.
    await report(twin, { firmware: '1.2.3', telemetry: { enabled: true } });
    const afterReport = (await reg.getTwin(id)).responseBody;
    assert.equal(afterReport.properties.reported.firmware, '1.2.3');
    assert.deepEqual(afterReport.properties.reported.telemetry, { enabled: true });
    assert.equal(afterReport.properties.reported.$version, 2);

    // A desired patch made through the service SDK reaches the device.
    const desiredVersion = await desiredPatches(twin);
    const patched = desiredVersion(3);
    await reg.updateTwin(id, { properties: { desired: { interval: 30, mode: 'eco' } } }, afterReport.etag);
    const patch = await patched;
    assert.equal(patch.interval, 30);
    assert.equal(patch.mode, 'eco');
    assert.equal(twin.properties.desired.interval, 30, 'the patch is merged into the device twin');

    // A direct method invoked through the service SDK: the request as the
    // device sees it, the answer as the service sees it.
    const requests = [];
    client.onDeviceMethod('reboot', (request, response) => {
      requests.push({ methodName: request.methodName, payload: request.payload });
      response.send(201, { accepted: true, echo: request.payload }, (err) => {
        if (err) {
          throw err;
        }
      });
    });
    const called = await service.invokeDeviceMethod(id, {
      methodName: 'reboot',
      payload: { delay: 5, reason: 'interop' },
      responseTimeoutInSeconds: 10,
      connectTimeoutInSeconds,
    });
    assert.equal(called.message.statusCode, 200);
    assert.deepEqual(called.result, { status: 201, payload: { accepted: true, echo: { delay: 5, reason: 'interop' } } });
    assert.deepEqual(requests, [{ methodName: 'reboot', payload: { delay: 5, reason: 'interop' } }]);

    // Without a payload the device gets null.
    const bare = await service.invokeDeviceMethod(id, { methodName: 'reboot', responseTimeoutInSeconds: 10 });
    assert.deepEqual(bare.result, { status: 201, payload: { accepted: true, echo: null } });
    assert.deepEqual(requests[1], { methodName: 'reboot', payload: null });

    // The registry saw the connection before the hub could route a method
    // to it.
    assert.equal((await reg.get(id)).responseBody.connectionState, 'Connected');
  });
}

/**
 * A device client that authenticates with the test's X.509 certificate.
 * Client.fromConnectionString drops GatewayHostName from an x509=true
 * connection string and would dial port 8883: over Mqtt the client is made
 * from an X509AuthenticationProvider that names the gateway instead.
 * MqttWs dials port 443 of HostName either way.
 */
async function x509Client(deviceId, transport, cert, key) {
  const client = transport === Mqtt
    ? DeviceClient.fromAuthenticationProvider(new X509AuthenticationProvider({ host: hostName, deviceId, gatewayHostName: mqttHost }), Mqtt)
    : DeviceClient.fromConnectionString(`HostName=${hostName};DeviceId=${deviceId};x509=true`, transport);
  client.setRetryPolicy(new NoRetry());
  await client.setOptions({ cert, key });
  return client;
}

for (const transport of [Mqtt, MqttWs]) {
  test(`device over ${transport.name} with an X.509 certificate: selfSigned thumbprint`, async (t) => {
    const reg = registry();
    const devices = new Devices(reg);
    t.after(() => devices.deleteAll());
    const cert = fs.readFileSync(process.env.DEVICE_CERT_FILE, 'utf8');
    const key = fs.readFileSync(process.env.DEVICE_KEY_FILE, 'utf8');
    const thumbprint = new crypto.X509Certificate(cert).fingerprint256.replace(/:/g, '');
    const id = uniqueId(`x509-${transport.name.toLowerCase()}`);
    // Registry.create makes thumbprints a selfSigned identity.
    const device = await devices.create({ deviceId: id, authentication: { x509Thumbprint: { primaryThumbprint: thumbprint } } });
    assert.equal(device.authentication.type, 'selfSigned');
    assert.equal(device.authentication.x509Thumbprint.primaryThumbprint, thumbprint);

    const client = await devices.open(await x509Client(id, transport, cert, key));
    const twin = await client.getTwin();
    await report(twin, { auth: 'x509' });
    assert.equal((await reg.getTwin(id)).responseBody.properties.reported.auth, 'x509');

    // Another device's thumbprint does not let this certificate in.
    const otherId = uniqueId('x509-other');
    await devices.create({ deviceId: otherId, authentication: { x509Thumbprint: { primaryThumbprint: 'A'.repeat(64) } } });
    const other = devices.closeLater(await x509Client(otherId, transport, cert, key));
    await rejectsWith(other.open(), 'UnauthorizedError');
  });
}

test('module over Mqtt: module twin and a module direct method', async (t) => {
  const reg = registry();
  const service = serviceClient();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('module');
  await devices.create({ deviceId: id });
  const module = (await reg.addModule({ deviceId: id, moduleId: 'sensor' })).responseBody;
  await reg.updateModuleTwin(id, 'sensor', { properties: { desired: { warn: 75 } } }, '*');

  const cs = `HostName=${hostName};DeviceId=${id};ModuleId=sensor;SharedAccessKey=${module.authentication.symmetricKey.primaryKey};GatewayHostName=${mqttHost}`;
  const client = ModuleClient.fromConnectionString(cs, Mqtt);
  client.setRetryPolicy(new NoRetry());
  await devices.open(client);

  const twin = await client.getTwin();
  assert.equal(twin.properties.desired.warn, 75);
  await report(twin, { temperature: 21.5 });
  assert.equal((await reg.getModuleTwin(id, 'sensor')).responseBody.properties.reported.temperature, 21.5);

  client.onMethod('calibrate', (request, response) => {
    response.send(200, { calibrated: request.payload.offset }, () => {});
  });
  const called = await service.invokeDeviceMethod(id, 'sensor', {
    methodName: 'calibrate',
    payload: { offset: 2 },
    responseTimeoutInSeconds: 10,
    connectTimeoutInSeconds,
  });
  assert.deepEqual(called.result, { status: 200, payload: { calibrated: 2 } });
});

test('direct method: an offline device is 404 DeviceNotOnline', async (t) => {
  const reg = registry();
  const service = serviceClient();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('offline');
  await devices.create({ deviceId: id });

  // DeviceNotOnline's 404 is not DeviceNotFound's body: the SDK makes it a
  // plain Error, as it does against Azure.
  const err = await rejectsWith(service.invokeDeviceMethod(id, { methodName: 'reboot', payload: null }), 'Error', 404);
  assert.match(String(err.responseBody), /ErrorCode:DeviceNotOnline;/);
  await rejectsWith(service.invokeDeviceMethod(uniqueId('missing'), { methodName: 'reboot' }), 'DeviceNotFoundError', 404);
});

test('direct method: a device that does not answer is 504 GatewayTimeoutError', async (t) => {
  const reg = registry();
  const service = serviceClient();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('silent');
  const device = await devices.create({ deviceId: id });
  const client = await devices.open(deviceClient(device, Mqtt));

  const received = new Promise((resolve) => client.onDeviceMethod('reboot', (request) => resolve(request.methodName)));
  // 5 s is the shortest response timeout the hub (and Azure) takes.
  await rejectsWith(service.invokeDeviceMethod(id, { methodName: 'reboot', responseTimeoutInSeconds: 5, connectTimeoutInSeconds }), 'GatewayTimeoutError', 504);
  assert.equal(await received, 'reboot', 'the device got the request it did not answer');
});

test('device refused: a disabled device', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('disabled');
  const device = await devices.create({ deviceId: id, status: 'disabled' });

  const client = devices.closeLater(deviceClient(device, Mqtt));
  await rejectsWith(client.open(), 'UnauthorizedError');

  // Enabled again, the same client connects.
  await reg.update({ ...device, status: 'enabled' });
  await devices.open(client);
  const twin = await client.getTwin();
  assert.equal(twin.properties.reported.$version, 1);
});

test('device refused: a wrong key', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const id = uniqueId('wrongkey');
  await devices.create({ deviceId: id });

  const wrongKey = Buffer.alloc(32, 7).toString('base64');
  for (const transport of [Mqtt, MqttWs]) {
    const client = devices.closeLater(DeviceClient.fromConnectionString(deviceConnectionString(id, wrongKey, { gateway: transport === Mqtt }), transport));
    client.setRetryPolicy(new NoRetry());
    await rejectsWith(client.open(), 'UnauthorizedError');
  }
  assert.equal((await reg.get(id)).responseBody.connectionState, 'Disconnected');
});

test('device refused: an unknown device', async (t) => {
  const devices = new Devices(registry());
  t.after(() => devices.deleteAll());
  const client = devices.closeLater(DeviceClient.fromConnectionString(deviceConnectionString(uniqueId('unknown'), Buffer.alloc(32, 7).toString('base64')), Mqtt));
  client.setRetryPolicy(new NoRetry());
  await rejectsWith(client.open(), 'UnauthorizedError');
});
