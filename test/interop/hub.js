// Shared setup of the interop tests: the hub under test, reached as the
// official SDKs reach Azure IoT Hub.
//
//   IOTHUB_CONNECTION_STRING  the hub's iothubowner connection string
//                             (HostName=localhost: HTTPS on port 443)
//   HUB_MQTT_HOST             host:port of the device MQTT endpoint, given to
//                             device clients as GatewayHostName
//   NODE_EXTRA_CA_CERTS       the hub's CA (ca.pem of `iotplan hub serve`)
//   DEVICE_CERT_FILE          a self-signed client certificate (PEM), and
//   DEVICE_KEY_FILE           its key, for X.509 devices
//
// interop_test.go starts `iotplan hub serve` and sets them all.
'use strict';
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const { Client: DeviceClient } = require('azure-iot-device');
const { NoRetry } = require('azure-iot-common');

for (const name of ['IOTHUB_CONNECTION_STRING', 'HUB_MQTT_HOST', 'NODE_EXTRA_CA_CERTS', 'DEVICE_CERT_FILE', 'DEVICE_KEY_FILE']) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: run the suite through "go test ./test/interop" (interop_test.go), which serves the hub and sets it`);
  }
}

const connectionString = process.env.IOTHUB_CONNECTION_STRING;
const hostName = /(?:^|;)HostName=([^;]+)/.exec(connectionString)[1];
const mqttHost = process.env.HUB_MQTT_HOST;

/** The service SDK's registry client (REST). */
function registry() {
  return Registry.fromConnectionString(connectionString);
}

/** The service SDK's client, without its minutes of retries. */
function serviceClient() {
  const client = ServiceClient.fromConnectionString(connectionString);
  client.setRetryPolicy(new NoRetry());
  return client;
}

/** A device ID no other test or run uses. */
function uniqueId(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * Devices made by one test, and their clients: create() registers a
 * device, open() connects a device client (closeLater() takes one that may
 * not connect), and deleteAll(), given to t.after, closes the clients and
 * then removes every device still there.
 */
class Devices {
  constructor(reg) {
    this.reg = reg;
    this.ids = new Set();
    this.clients = [];
  }

  async open(client) {
    this.closeLater(client);
    await client.open();
    return client;
  }

  closeLater(client) {
    this.clients.push(client);
    return client;
  }

  async create(device) {
    this.ids.add(device.deviceId);
    return (await this.reg.create(device)).responseBody;
  }

  track(...ids) {
    ids.forEach((id) => this.ids.add(id));
  }

  async deleteAll() {
    for (const client of this.clients.splice(0)) {
      await client.close();
    }
    for (const id of this.ids) {
      try {
        await this.reg.delete(id);
      } catch (err) {
        if (err.constructor.name !== 'DeviceNotFoundError') {
          throw err;
        }
      }
    }
    this.ids.clear();
  }
}

/**
 * The connection string of a device with a symmetric key. With gateway,
 * the device dials HUB_MQTT_HOST (GatewayHostName) while its username and
 * token name the hub's HostName.
 */
function deviceConnectionString(deviceId, key, { gateway = true } = {}) {
  let cs = `HostName=${hostName};DeviceId=${deviceId};SharedAccessKey=${key}`;
  if (gateway) {
    cs += `;GatewayHostName=${mqttHost}`;
  }
  return cs;
}

/**
 * A device client over transport (Mqtt or MqttWs) that fails at once
 * instead of retrying. MqttWs always dials port 443 of the gateway or
 * host name, with no port of its own: it goes to HostName, where
 * `hub serve` serves MQTT over WebSocket next to the REST API.
 */
function deviceClient(device, transport) {
  const ws = transport.name === 'MqttWs';
  const cs = deviceConnectionString(device.deviceId, device.authentication.symmetricKey.primaryKey, { gateway: !ws });
  const client = DeviceClient.fromConnectionString(cs, transport);
  client.setRetryPolicy(new NoRetry());
  return client;
}

/**
 * Asserts that promise rejects with an error of the SDK class name (the
 * SDKs' error classes are told apart by name) and, when given, the HTTP
 * status of its response. Returns the error.
 */
async function rejectsWith(promise, name, status) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `succeeded; want ${name}`);
  assert.equal(err.constructor.name, name, `got ${err.constructor.name}: ${err.message}`);
  if (status !== undefined) {
    assert.equal(err.response && err.response.statusCode, status, `HTTP status of ${name}`);
  }
  return err;
}

module.exports = {
  Devices,
  connectionString,
  deviceClient,
  deviceConnectionString,
  hostName,
  mqttHost,
  registry,
  rejectsWith,
  serviceClient,
  uniqueId,
};
