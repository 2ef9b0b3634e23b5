package redisstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
)

// TestPushedEntryLayout: a pushed request's entry (pkce.Peeker) keeps its
// redirect URI after the method, whose byte is upper-case; Peek is a GET
// that changes nothing; an entry with another redirect URI is another
// challenge to Save.
func TestPushedEntryLayout(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	ctx := context.Background()
	s := redisstore.New(client)
	key := "par:" + newKey()
	c := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "demo-app",
		ExpiresAt: time.Now().Add(time.Minute), RedirectURI: "http://127.0.0.1:5555/callback"}
	if err := s.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	rkey := redisstore.DefaultKeyPrefix + key
	live, err := client.Get(ctx, rkey).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := "\x01S" + string(binary.AppendUvarint(nil, uint64(len(c.RedirectURI)))) + c.RedirectURI
	if !strings.HasPrefix(live, want) || !strings.HasSuffix(live, c.Value+c.ClientID) {
		t.Errorf("encoded pushed entry: %q, want it to start %q", live, want)
	}
	pttl, _ := client.PTTL(ctx, rkey).Result()
	for range 3 {
		got, err := s.Peek(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.RedirectURI != c.RedirectURI || got.Value != c.Value || got.ClientID != c.ClientID || got.Method != c.Method {
			t.Fatalf("Peek: got %+v, want %+v", got, c)
		}
	}
	if v, _ := client.Get(ctx, rkey).Result(); v != live {
		t.Errorf("value after Peek: got %q, want it unchanged", v)
	}
	if after, _ := client.PTTL(ctx, rkey).Result(); after > pttl {
		t.Errorf("PTTL after Peek: %v, was %v", after, pttl)
	}
	other := c
	other.RedirectURI += "?x=1"
	if err := s.Save(ctx, key, other); !errors.Is(err, pkce.ErrExists) {
		t.Errorf("Save with another redirect URI: got %v, want ErrExists", err)
	}
	if err := s.Save(ctx, key, c); err != nil {
		t.Errorf("Save of the same pushed challenge again: %v", err)
	}
	if _, err := s.Take(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, key); !errors.Is(err, pkce.ErrUsed) {
		t.Errorf("Peek after Take: got %v, want ErrUsed", err)
	}
	if err := client.Set(ctx, rkey, "\x01Z", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(ctx, key); err == nil || errors.Is(err, pkce.ErrNotFound) || errors.Is(err, pkce.ErrUsed) {
		t.Errorf("Peek of an entry that does not decode: got %v, want a fault", err)
	}
}

// TestPARAcrossInstances: a request pushed to instance A is looked up by
// the authorization request on instance B, and its request_uri is single
// use across both.
func TestPARAcrossInstances(t *testing.T) {
	srv := startRedis(t)
	codes := map[string]bool{}
	var instances [2]*httptest.Server
	for i := range instances {
		m, err := pkce.New(pkce.Config{Store: redisstore.New(srv.Client(), redisstore.WithKeyPrefix("par-across:"))})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/par", m.PAR(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"request_uri":"urn:ietf:params:oauth:request_uri:`+newKey()+`","expires_in":60}`)
		})))
		mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code := newKey()
			codes[code] = true
			http.Redirect(w, r, "http://127.0.0.1:9/cb?code="+code, http.StatusFound)
		})))
		instances[i] = httptest.NewServer(mux)
		t.Cleanup(instances[i].Close)
	}
	v := pkce.GenerateVerifier()
	resp, err := http.PostForm(instances[0].URL+"/par", url.Values{"client_id": {"app"}, "response_type": {"code"},
		"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push: %d %s", resp.StatusCode, b)
	}
	uri := strings.Split(string(b), `"`)[3]
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := "?" + url.Values{"client_id": {"app"}, "request_uri": {uri}}.Encode()
	resp, err = noRedirect.Get(instances[1].URL + "/authorize" + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize on B: %d", resp.StatusCode)
	}
	resp, err = noRedirect.Get(instances[0].URL + "/authorize" + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the request_uri again on A: %d, want 400 (single use)", resp.StatusCode)
	}
}
