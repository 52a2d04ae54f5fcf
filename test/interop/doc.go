// Package interop holds the interoperability suite of iotplan's local hub
// with the official Azure IoT SDKs for Node.js: azure-iothub (service,
// REST), azure-iot-device with azure-iot-device-mqtt (devices, MQTT and
// MQTT over WebSocket) and azure-iot-common, at the versions pinned in
// package.json and package-lock.json.
//
// TestOfficialNodeSDKs builds iotplan, starts `iotplan hub serve` on
// 127.0.0.1:443 with its generated CA, and runs the *.test.js files of
// this folder with Node's built-in test runner against it. It needs Node.js
// 20.11 or later, the SDKs installed with
//
//	npm ci --prefix test/interop
//
// and the right to bind port 443 (root, or CAP_NET_BIND_SERVICE); without
// that right it is skipped, except under CI=true. docs/compatibility.md
// says what the suite shows.
package interop
