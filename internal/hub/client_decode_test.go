package hub

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeAzureShapes reads bodies as Azure IoT Hub writes them (the
// reference's captures): times without a zone and "never" as year 1,
// enums in another case.
func TestDecodeAzureShapes(t *testing.T) {
	d, err := decodeDevice([]byte(`{"deviceId":"edison1","generationId":"635944482332920305","etag":"MA==","connectionState":"disconnected","status":"Enabled",
		"statusReason":null,"connectionStateUpdatedTime":"0001-01-01T00:00:00","statusUpdatedTime":"2016-03-16T09:46:02.5862088",
		"lastActivityTime":"2016-03-16T09:46:02.5862088Z","cloudToDeviceMessageCount":0,
		"authentication":{"symmetricKey":{"primaryKey":"cA==","secondaryKey":"cw=="},"x509Thumbprint":{"primaryThumbprint":null,"secondaryThumbprint":null},"type":"SAS"},
		"capabilities":{"iotEdge":false},"someNewField":1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Device{
		DeviceID: "edison1", GenerationID: "635944482332920305", ETag: "MA==", ConnectionState: "Disconnected", Status: StatusEnabled,
		StatusUpdatedTime: time.Date(2016, 3, 16, 9, 46, 2, 586208800, time.UTC),
		LastActivityTime:  time.Date(2016, 3, 16, 9, 46, 2, 586208800, time.UTC),
		Authentication: &AuthenticationMechanism{SymmetricKey: &SymmetricKey{PrimaryKey: "cA==", SecondaryKey: "cw=="},
			X509Thumbprint: &X509Thumbprint{}, Type: AuthSAS},
		Capabilities: &DeviceCapabilities{},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("device mismatch (-want +got):\n%s", diff)
	}

	tw, err := decodeTwin([]byte(`{"deviceId":"devA","etag":"AAAAAAAAAAc=","status":"disabled","statusUpdateTime":"0001-01-01T00:00:00Z",
		"connectionState":"Connected","lastActivityTime":null,"authenticationType":"selfsigned","version":4,
		"tags":{"b":{"floor":"1"}},"properties":{"desired":{"n":5,"$version":2},"reported":{"$version":4}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if tw.Status != StatusDisabled || tw.AuthenticationType != AuthSelfSigned || !tw.StatusUpdateTime.IsZero() || tw.Properties.Desired.Version() != 2 {
		t.Errorf("twin %+v", tw)
	}
	if _, err := decodeDevice([]byte(`{"deviceId":"x","lastActivityTime":"yesterday"}`)); err == nil {
		t.Errorf("a malformed time decoded")
	}
}
