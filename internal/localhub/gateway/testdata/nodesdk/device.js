// A device on the official Node.js SDK (azure-iot-device + azure-iot-device-mqtt),
// driven by TestNodeSDK: it prints one line per thing it sees, and answers
// the direct method "hello" with 201. With WS_PORT set it speaks MQTT over
// WebSocket (MqttWs), reaching that port through the SDK's
// mqtt.webSocketAgent option, since MqttWs always dials port 443.
'use strict';
const fs = require('fs');
const https = require('https');
const tls = require('tls');
const { Client, Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { NoRetry } = require('azure-iot-common');

const say = (...words) => console.log(words.join(' '));
const ca = fs.readFileSync(process.env.CA_FILE, 'utf8');

class PortAgent extends https.Agent {
  createConnection(options, callback) {
    return tls.connect({ ...options, port: Number(process.env.WS_PORT), ca }, callback);
  }
}

(async () => {
  const ws = !!process.env.WS_PORT;
  const client = Client.fromConnectionString(process.env.DEVICE_CS, ws ? MqttWs : Mqtt);
  client.setRetryPolicy(new NoRetry());
  const options = { ca };
  if (ws) {
    options.mqtt = { webSocketAgent: new PortAgent({ ca }) };
  }
  await client.setOptions(options);
  await client.open();
  const twin = await client.getTwin();
  say('twin', JSON.stringify(twin.properties.desired));
  await new Promise((resolve, reject) =>
    twin.properties.reported.update({ sdk: 'node' }, (err) => (err ? reject(err) : resolve())));
  say('reported');
  twin.on('properties.desired', (patch) => say('desired', JSON.stringify(patch)));
  client.onDeviceMethod('hello', (req, res) => {
    say('method', req.methodName, JSON.stringify(req.payload));
    res.send(201, { hi: req.payload }, () => {});
  });
  client.on('message', (msg) => {
    say('c2d', msg.messageId, msg.data.toString());
    client.complete(msg, () => {});
  });
  const m = new Message(JSON.stringify({ temperature: 21.5 }));
  m.contentType = 'application/json';
  m.contentEncoding = 'utf-8';
  m.properties.add('alert level', 'a&b=c');
  await client.sendEvent(m);
  say('ready');
  process.stdin.on('end', async () => {
    await client.close();
    say('closed');
    process.exit(0);
  });
  process.stdin.resume();
})().catch((err) => {
  say('error', err && err.message);
  process.exit(1);
});
