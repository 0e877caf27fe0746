// Package randomusertest stands in for randomuser.me in tests: it serves users from a
// recorded API response (testdata/results30-v1.4.json, 30 users of many
// nationalities, with numeric and text postcodes, null id values and non-Latin names).
package randomusertest

import (
	_ "embed"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// Response is the recorded randomuser.me response, as the API sent it.
//
//go:embed testdata/results30-v1.4.json
var Response []byte

// NewServer starts a server that answers like randomuser.me (NewHandler). It closes
// when the test ends.
func NewServer(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(t))
	t.Cleanup(srv.Close)
	return srv
}

// NewHandler answers like randomuser.me: `results=N` users taken from Response,
// starting at a place that depends on `seed`, so that the same seed and N give the
// same users.
func NewHandler(t testing.TB) http.Handler {
	t.Helper()
	var recorded struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(Response, &recorded); err != nil {
		t.Fatalf("decoding recorded randomuser response: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("results"))
		if err != nil || n < 1 {
			n = 1
		}
		seed := r.URL.Query().Get("seed")
		h := fnv.New32a()
		h.Write([]byte(seed))
		start := int(h.Sum32() % uint32(len(recorded.Results)))
		users := make([]json.RawMessage, n)
		for i := range users {
			users[i] = recorded.Results[(start+i)%len(recorded.Results)]
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"results": users,
			"info":    map[string]any{"seed": seed, "results": n, "page": 1, "version": "1.4"},
		})
	})
}
