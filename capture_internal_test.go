package pkce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFormPostCodes(t *testing.T) {
	tests := []struct {
		name, page string
		want       []string
	}{
		{"double quotes", `<input type="hidden" name="code" value="abc"/>`, []string{"abc"}},
		{"value before name", `<input value="abc" type="hidden" name="code">`, []string{"abc"}},
		{"single quotes", `<input type='hidden' name='code' value='abc'>`, []string{"abc"}},
		{"unquoted", `<input type=hidden name=code value=abc>`, []string{"abc"}},
		{"upper case", `<INPUT TYPE="HIDDEN" NAME="code" VALUE="abc">`, []string{"abc"}},
		{"spaces around =", `<input name = "code" value = "abc" >`, []string{"abc"}},
		{"entities", `<input name="code" value="a&amp;b&#x3d;c&quot;">`, []string{`a&b=c"`}},
		{"name by entity", `<input name="&#99;ode" value="abc">`, []string{"abc"}},
		{"first attribute wins", `<input name="code" name="state" value="abc" value="def">`, []string{"abc"}},
		{"among other inputs", `<form><input name="state" value="s"><input name="code" value="abc"><input name="iss" value="i"></form>`, []string{"abc"}},
		{"a > inside a quoted value", `<input value="x>y" name="code">`, []string{"x>y"}},
		{"newlines", "<input\n\tname=\"code\"\n\tvalue=\"abc\"\n>", []string{"abc"}},
		{"other names", `<input name="code_verifier" value="abc"><input name="Code" value="def">`, nil},
		{"not an input", `<inputs name="code" value="abc"><textarea name="code">abc</textarea>`, nil},
		{"empty value", `<input name="code" value="">`, nil},
		{"cut off tag", `<input name="code" value="abc`, nil},
		{"cut off after value", `<input name="code" value="abc"`, nil},
		{"two codes", `<input name="code" value="a"><input name="code" value="b">`, []string{"a", "b"}},
		{"no page", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, formPostCodes([]byte(tt.page)))
		})
	}
}

func TestLocationCodes(t *testing.T) {
	tests := []struct {
		name, location string
		want           []string
	}{
		{"query", "https://app/cb?code=abc&state=s", []string{"abc"}},
		{"fragment", "https://app/cb#state=s&code=abc&id_token=x", []string{"abc"}},
		{"escaped value", "https://app/cb?code=a%2Bb+c", []string{"a+b c"}},
		{"escaped key", "https://app/cb?co%64e=abc", []string{"abc"}},
		{"both query and fragment", "https://app/cb?code=q#code=f", []string{"q", "f"}},
		{"no code", "https://app/cb?error=access_denied&state=s", nil},
		{"code-like keys", "https://app/cb?codes=a&xcode=b&code_x=c", nil},
		{"empty code", "https://app/cb?code=", nil},
		{"bad escape kept raw", "https://app/cb?code=a%zz", []string{"a%zz"}},
		{"no query", "https://app/cb", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var saved []string
			m, err := New(Config{Store: recordingStore{&saved}})
			assert.NoError(t, err)
			cw := &captureWriter{w: httptest.NewRecorder(), m: m, ctx: t.Context(), challenge: Challenge{Method: S256}}
			found, ok := cw.saveLocationCodes(tt.location)
			assert.True(t, ok)
			assert.Equal(t, len(tt.want) > 0, found)
			var want []string
			for _, c := range tt.want {
				want = append(want, storeKey(c))
			}
			assert.Equal(t, want, saved)
		})
	}
}

func TestCaptureWriterInterfaces(t *testing.T) {
	var w http.ResponseWriter = &captureWriter{w: httptest.NewRecorder()}
	_, flusher := w.(http.Flusher)
	assert.True(t, flusher)
	// Hijack is refused while the response is undecided, and otherwise
	// only what the underlying writer can do: a recorder cannot.
	_, _, err := http.NewResponseController(w).Hijack()
	assert.ErrorIs(t, err, errHijackHeld)
	w.(*captureWriter).state = passing
	_, _, err = http.NewResponseController(w).Hijack()
	assert.ErrorIs(t, err, http.ErrNotSupported)

	var d http.ResponseWriter = &discoveryWriter{w: httptest.NewRecorder()}
	_, hijacker := d.(http.Hijacker)
	assert.False(t, hijacker, "reached through Unwrap, never invented")
}

// recordingStore records the keys saved.
type recordingStore struct{ keys *[]string }

func (s recordingStore) Save(_ context.Context, key string, _ Challenge) error {
	*s.keys = append(*s.keys, key)
	return nil
}

func (recordingStore) Take(context.Context, string) (Challenge, error) {
	return Challenge{}, ErrNotFound
}
