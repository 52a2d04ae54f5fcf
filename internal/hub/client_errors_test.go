package hub

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestParseError reads each error body the reference lists, and the
// degenerate ones a proxy may send.
func TestParseError(t *testing.T) {
	tests := map[string]struct {
		status int
		header http.Header
		body   string
		want   Error
	}{
		"A: JSON inside Message": {
			status: 404,
			body:   `{"Message":"{\"errorCode\":404103,\"trackingId\":\"95ae-TimeStamp:10/19/2022 16:47:22\",\"message\":\"The operation failed because the requested device isn't online.\",\"timestampUtc\":\"2022-10-19T16:47:22.0203257Z\"}","ExceptionMessage":""}`,
			want:   Error{StatusCode: 404, Code: 404103, Name: "DeviceNotOnline", Message: "The operation failed because the requested device isn't online.", TrackingID: "95ae-TimeStamp:10/19/2022 16:47:22"},
		},
		"B: classic": {
			status: 404,
			body:   `{"Message":"ErrorCode:DeviceNotFound;Device d1 is not registered","ExceptionMessage":"Tracking ID:aeec4c1e4e914a4c9f40fdba7be68fa5-G:0-TimeStamp:10/18/2022 20:50:39"}`,
			want:   Error{StatusCode: 404, Code: 404001, Name: "DeviceNotFound", Message: "Device d1 is not registered", TrackingID: "aeec4c1e4e914a4c9f40fdba7be68fa5-G:0-TimeStamp:10/18/2022 20:50:39"},
		},
		"B: text with semicolons": {
			status: 412,
			body:   `{"Message":"ErrorCode:PreconditionFailed;Precondition failed; existingVersion:957482805 newVersion:957482804"}`,
			want:   Error{StatusCode: 412, Code: 412001, Name: "PreconditionFailed", Message: "Precondition failed; existingVersion:957482805 newVersion:957482804"},
		},
		"B: 2016 form": {
			status: 409,
			body:   `{"Message":"ErrorCode:DeviceAlreadyExists;A device with ID 'iotdevice1' is already registered.\r\nTracking Id:1234abcd-G:10\r\nErrorCode:DeviceAlreadyExists"}`,
			want:   Error{StatusCode: 409, Code: 409001, Name: "DeviceAlreadyExists", Message: "A device with ID 'iotdevice1' is already registered.", TrackingID: "1234abcd-G:10"},
		},
		"B: numeric code": {
			status: 429,
			body:   `{"Message":"ErrorCode:429003;The request has been throttled. Wait 10 seconds and try again."}`,
			want:   Error{StatusCode: 429, Code: 429003, Name: "ThrottlingBacklogTimeout", Message: "The request has been throttled. Wait 10 seconds and try again."},
		},
		"C: object in Message": {
			status: 404,
			body:   `{"Message":{"errorCode":"404103","trackingId":"t-1","message":"offline","timestampUtc":"2022-10-19T16:47:22Z"}}`,
			want:   Error{StatusCode: 404, Code: 404103, Name: "DeviceNotOnline", Message: "offline", TrackingID: "t-1"},
		},
		"D: flat": {
			status: 400,
			body:   `{"errorCode":400004,"trackingId":"t-2","message":"bad argument","timestampUtc":"2022-10-19T16:47:22Z"}`,
			want:   Error{StatusCode: 400, Code: 400004, Name: "ArgumentInvalid", Message: "bad argument", TrackingID: "t-2"},
		},
		"unknown number keeps the header's name": {
			status: 400,
			header: http.Header{"Iothub-Errorcode": {"SomethingNew"}},
			body:   `{"errorCode":400999,"message":"new"}`,
			want:   Error{StatusCode: 400, Code: 400999, Name: "SomethingNew", Message: "new"},
		},
		"unknown name": {
			status: 400,
			body:   `{"Message":"ErrorCode:BrandNewError;what"}`,
			want:   Error{StatusCode: 400, Name: "BrandNewError", Message: "what"},
		},
		"header only": {
			status: 404,
			header: http.Header{"Iothub-Errorcode": {"ModuleNotFound"}},
			body:   `{"Message":"module m not found"}`,
			want:   Error{StatusCode: 404, Code: 404010, Name: "ModuleNotFound", Message: "module m not found"},
		},
		"not JSON": {
			status: 502,
			body:   "<html>Bad Gateway</html>\n",
			want:   Error{StatusCode: 502, Message: "<html>Bad Gateway</html>"},
		},
		"empty": {
			status: 503,
			want:   Error{StatusCode: 503, Message: "Service Unavailable"},
		},
		"secrets redacted": {
			status: 401,
			body:   `{"Message":"ErrorCode:IotHubUnauthorizedAccess;bad token SharedAccessSignature sr=h&sig=abc%2Bdef&se=1&skn=p; key SharedAccessKey=c2VjcmV0"}`,
			want:   Error{StatusCode: 401, Code: 401002, Name: "IotHubUnauthorizedAccess", Message: "bad token SharedAccessSignature (redacted)&sig=(redacted)&se=1&skn=p; key SharedAccessKey=(redacted)"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			got := parseError(tt.status, header, []byte(tt.body))
			if d := cmp.Diff(&tt.want, got); d != "" {
				t.Errorf("parseError mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseErrorBounds(t *testing.T) {
	got := parseError(500, http.Header{}, []byte(`{"Message":"ErrorCode:ServerError;`+strings.Repeat("é", 2000)+"\x00\"}"))
	if len(got.Message) > maxErrorMessage+len("…") || strings.ContainsRune(got.Message, 0) {
		t.Errorf("message of %d bytes, or with a control character", len(got.Message))
	}
	if !errors.Is(got, ErrUnavailable) && got.StatusCode != 500 {
		t.Errorf("status %d", got.StatusCode)
	}
}

// FuzzParseError reads arbitrary error answers: never a panic, and always
// an *Error with the HTTP status and a short, printable, valid UTF-8
// message.
func FuzzParseError(f *testing.F) {
	for _, seed := range []string{
		`{"Message":"ErrorCode:DeviceNotFound;x","ExceptionMessage":"Tracking ID:abc-G:0-TimeStamp:01/01/2026 00:00:00"}`,
		`{"Message":"{\"errorCode\":404103,\"trackingId\":\"t\",\"message\":\"m\"}"}`,
		`{"Message":{"errorCode":"404103","message":"m"}}`,
		`{"errorCode":400004,"message":"m"}`,
		`{"Message":"ErrorCode:4001234567;x"}`,
		`{"Message":null}`,
		`<html></html>`,
		``,
	} {
		f.Add(400, "", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, status int, headerName string, body []byte) {
		e := parseError(status, http.Header{"Iothub-Errorcode": {headerName}}, body)
		if e.StatusCode != status {
			t.Errorf("status %d, want %d", e.StatusCode, status)
		}
		if len(e.Name) > maxErrorName+len("…") {
			t.Errorf("name of %d bytes", len(e.Name))
		}
		for _, s := range []string{e.Message, e.TrackingID, e.Name} {
			if len(s) > maxErrorMessage+len("…") || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
				t.Errorf("unsafe text %q", s)
			}
		}
		_ = e.Error()
	})
}
