package activities

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
)

func TestParseRecordedResponse(t *testing.T) {
	users, err := parseResponse(randomusertest.Response, 30)
	require.NoError(t, err)
	require.Len(t, users, 30)

	byFirst := map[string]apiUser{}
	for _, u := range users {
		byFirst[u.Name.First] = u
	}
	tests := []struct {
		name, first string
		want        func(t *testing.T, u apiUser)
	}{
		{"text postcode", "Mathis", func(t *testing.T, u apiUser) {
			assert.Equal(t, flexString("8261"), u.Location.Postcode)
			assert.Equal(t, "2054 Linaaes gate, Bybrua, Buskerud, Norway", formatUser(u, "id", datasets.SourceRandomUser).Address)
		}},
		{"numeric postcode", "Josephine", func(t *testing.T, u apiUser) {
			assert.Equal(t, flexString("61735"), u.Location.Postcode)
		}},
		{"postcode with letters", "Emily", func(t *testing.T, u apiUser) {
			assert.Equal(t, flexString("N25 0RF"), u.Location.Postcode)
		}},
		{"null id value", "Sedef", func(t *testing.T, u apiUser) {
			assert.Equal(t, "Maçka Cd", u.Location.Street.Name)
		}},
		{"non-Latin script", "احسان", func(t *testing.T, u apiUser) {
			rec := formatUser(u, "id", datasets.SourceRandomUser)
			assert.Equal(t, "4903 دکتر فاطمی", strings.SplitN(rec.Address, ",", 2)[0])
			b, err := json.Marshal(rec)
			require.NoError(t, err)
			assert.Contains(t, string(b), "احسان", "JSON keeps UTF-8 text as is")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := byFirst[tt.first]
			require.True(t, ok, "fixture has no user %s", tt.first)
			tt.want(t, u)
		})
	}
}

func TestFormatUserFillsEveryField(t *testing.T) {
	users, err := parseResponse(randomusertest.Response, 30)
	require.NoError(t, err)
	for _, u := range users {
		assertComplete(t, formatUser(u, "9b2f6c1e-0000-5000-8000-000000000000", datasets.SourceRandomUser))
	}
}

func TestFetchUsers(t *testing.T) {
	// The call's deadline is half the interval: 1 s, so that a loaded machine (-race,
	// beside the stack and every other test) parses 70 recorded users in time; at
	// 400 ms, "more users than recorded" once fell back to the faker so.
	const interval = 2 * time.Second
	recorded := randomusertest.NewServer(t)
	oversized := []byte(`{"results":[],"info":"` + strings.Repeat("x", 1<<20) + `"}`)
	tests := []struct {
		name       string
		url        string
		handler    http.HandlerFunc
		users      int
		wantSource string
		wantReason string
	}{
		{name: "recorded response", url: recorded.URL, users: 5, wantSource: datasets.SourceRandomUser},
		{name: "more users than recorded", url: recorded.URL, users: 70, wantSource: datasets.SourceRandomUser},
		{name: "error body", users: 1, wantSource: datasets.SourceFaker, wantReason: "Uh oh",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"error": "Uh oh, something has gone wrong. Please tell us on GitHub."}`))
			}},
		{name: "too many requests", users: 1, wantSource: datasets.SourceFaker, wantReason: "429",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "slow down", http.StatusTooManyRequests)
			}},
		{name: "server error", users: 1, wantSource: datasets.SourceFaker, wantReason: "503",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
			}},
		{name: "hung server", users: 1, wantSource: datasets.SourceFaker, wantReason: "in time",
			handler: func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}},
		{name: "fewer users than asked", users: 2, wantSource: datasets.SourceFaker, wantReason: "sent 1 users, want 2",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"results":[{"name":{"first":"A"}}]}`))
			}},
		{name: "not JSON", users: 1, wantSource: datasets.SourceFaker, wantReason: "decoding",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`<html>Bad gateway</html>`))
			}},
		{name: "nothing listening", url: "http://127.0.0.1:1/api/", users: 3, wantSource: datasets.SourceFaker, wantReason: "calling randomuser"},
		{name: "oversized body", users: 2, wantSource: datasets.SourceFaker,
			wantReason: "randomuser sent more than 73728 bytes for 2 users; the rest was not read",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(oversized)
			}},
		{name: "redirect", users: 1, wantSource: datasets.SourceFaker,
			wantReason: "randomuser redirected to \"" + recorded.URL + "/api/\"; redirects are refused",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, recorded.URL+"/api/?results=1&seed=x", http.StatusFound)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				t.Cleanup(srv.Close)
				url = srv.URL
			}
			a := New(Config{RandomUserURL: url}, discardLogger())
			tick := datasets.Tick{WorkflowID: "wf", RunID: "run", Tick: 7, Interval: interval}

			start := time.Now()
			users, source, fallback := a.fetchUsers(context.Background(), tick, tt.users)
			elapsed := time.Since(start)

			assert.Less(t, elapsed, interval, "a tick's fetch must end well inside the interval")
			assert.Equal(t, tt.wantSource, source)
			require.Len(t, users, tt.users)
			if tt.wantReason == "" {
				assert.NoError(t, fallback)
			} else {
				require.Error(t, fallback)
				assert.Contains(t, fallback.Error(), tt.wantReason)
			}
			for i, u := range users {
				assertComplete(t, formatUser(u, datasets.Users.RecordID(tick.WorkflowID, tick.RunID, tick.Tick, i), source))
			}
		})
	}
}

// A redirect is refused even to the same host, and so is a step down from https to
// plain http: RANDOMUSER_URL alone says where users come from, and how.
func TestRedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	plain := randomusertest.NewServer(t)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Redirect(w, r, plain.URL+"/api/?"+r.URL.RawQuery, http.StatusMovedPermanently)
			return
		}
		randomusertest.NewHandler(t).ServeHTTP(w, r)
	}))
	t.Cleanup(secure.Close)
	tick := datasets.Tick{WorkflowID: "wf", RunID: "run", Tick: 1, Interval: time.Second}
	for _, tt := range []struct{ path, source, reason string }{
		{"/api/", datasets.SourceRandomUser, ""},
		{"/down", datasets.SourceFaker, `randomuser redirected to "` + plain.URL + `/api/"; redirects are refused`},
	} {
		a := New(Config{RandomUserURL: secure.URL + tt.path}, discardLogger())
		a.http.SetTransport(secure.Client().Transport) // trusts the test server's certificate
		_, source, fallback := a.fetchUsers(context.Background(), tick, 2)
		assert.Equal(t, tt.source, source, tt.path)
		if tt.reason == "" {
			assert.NoError(t, fallback)
		} else {
			assert.ErrorContains(t, fallback, tt.reason)
		}
	}
}

// One user with an oversized field is replaced by the faker's user of the same place
// (the same one each time the tick is sent); the tick's other users are the API's.
func TestOversizedFieldReplacesThatUserAlone(t *testing.T) {
	giant := strings.Repeat("Ω", 200) // 400 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Results []map[string]any `json:"results"`
		}
		require.NoError(t, json.Unmarshal(randomusertest.Response, &body))
		body.Results = body.Results[:3]
		body.Results[1]["location"].(map[string]any)["city"] = giant
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	a := New(Config{RandomUserURL: srv.URL}, discardLogger())
	ids := []string{"id-0", "id-1", "id-2"}
	tick := datasets.Tick{WorkflowID: "wf", RunID: "run", Tick: 2, Interval: time.Second}

	values, source, fallback := sources{a}.RandomUsers(context.Background(), tick, ids)
	assert.Equal(t, datasets.SourceRandomUser, source, "the tick is the API's")
	require.Error(t, fallback)
	assert.Equal(t, "replaced by the faker's, a field over 256 bytes: user 2 (location.city: 400 bytes)", fallback.Error())
	var from []string
	for _, v := range values {
		u := v.(datasets.User)
		assertComplete(t, u)
		assert.NotContains(t, u.Address, giant)
		from = append(from, u.Source)
	}
	assert.Equal(t, []string{datasets.SourceRandomUser, datasets.SourceFaker, datasets.SourceRandomUser}, from)
	_, numberSeed := tick.Seeds()
	assert.Equal(t, formatUser(fakeUsers(numberSeed, 3)[1], "id-1", datasets.SourceFaker), values[1])

	again, _, _ := sources{a}.RandomUsers(context.Background(), tick, ids)
	assert.Equal(t, values, again, "a tick sent again has the same users")
}

// What an error quotes of an answer is short, and escaped: it reaches the Web UI
// through the run's progress and result.
func TestSnippetIsShortAndEscaped(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"maintenance", `"maintenance"`},
		{`<script>alert("x")</script>`, `"\u003cscript\u003ealert(\"x\")\u003c/script\u003e"`},
		{"tab\tand\x1b[31m escape & 'quote'", `"tab\tand\x1b[31m escape \u0026 \u0027quote\u0027"`},
		{"Ω", `"\u03a9"`},
		{"\xff", `"\ufffd"`},
		{strings.Repeat("a", 150) + "Ω" + strings.Repeat("b", 5000), `"` + strings.Repeat("a", 150) + `"…`},
		{strings.Repeat("<", 5000), `"` + strings.Repeat(`\u003c`, 25) + `"…`},
	} {
		got := snippet([]byte(tt.body))
		assert.Equal(t, tt.want, got)
		assert.LessOrEqual(t, len(got), maxSnippetBytes)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>" + strings.Repeat("<p>gateway</p>", 1000) + "</body></html>"))
	}))
	t.Cleanup(srv.Close)
	a := New(Config{RandomUserURL: srv.URL}, discardLogger())
	_, _, fallback := a.fetchUsers(context.Background(), datasets.Tick{Interval: time.Second}, 1)
	require.Error(t, fallback)
	assert.True(t, strings.HasPrefix(fallback.Error(), `randomuser answered 502: "\u003chtml\u003e\u003cbody\u003e`), fallback.Error())
	assert.NotContains(t, fallback.Error(), "<")
	assert.LessOrEqual(t, len(fallback.Error()), len("randomuser answered 502: ")+maxSnippetBytes)
}

func TestTickSentAgainHasSameUsers(t *testing.T) {
	for _, url := range []string{randomusertest.NewServer(t).URL, "http://127.0.0.1:1/api/"} {
		a := New(Config{RandomUserURL: url}, discardLogger())
		ids, first := generate(t, a, datasets.NameUsers, 3, 4)
		_, again := generate(t, a, datasets.NameUsers, 3, 4)
		source := first[0].(datasets.User).Source
		assert.Equal(t, first, again, "source %s", source)
		for i, v := range first {
			assert.Equal(t, ids[i], v.(datasets.User).ID)
		}

		_, next := generate(t, a, datasets.NameUsers, 4, 4)
		assert.NotEqual(t, first, next, "source %s: another tick draws other users", source)
	}
}

func TestFakeUsersHaveTheAPIShape(t *testing.T) {
	for _, u := range fakeUsers(42, 50) {
		rec := formatUser(u, "id", datasets.SourceFaker)
		assertComplete(t, rec)
		assert.Contains(t, []string{"male", "female"}, rec.Gender)
		assert.Regexp(t, `^\d+ [^,]+, [^,]+, [^,]+, .+$`, rec.Address)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(randomusertest.Response, 30)
	f.Add([]byte(`{"results":[{"location":{"postcode":61735,"street":{"number":9400}}}]}`), 1)
	f.Add([]byte(`{"results":[{"location":{"postcode":"N25 0RF"},"id":{"name":"","value":null}}]}`), 1)
	f.Add([]byte(`{"results":[{"name":{"first":"احسان","last":"سلطانی نژاد"}}]}`), 1)
	f.Add([]byte(`{"error": "Uh oh, something has gone wrong."}`), 1)
	f.Add([]byte(`{"results":[{"location":{"postcode":1e400}}]}`), 1)
	f.Add([]byte(`{"results":[{"location":{"postcode":true}}]}`), 1)
	f.Add([]byte(`null`), 0)
	f.Fuzz(func(t *testing.T, body []byte, want int) {
		users, err := parseResponse(body, want)
		if err != nil {
			return
		}
		require.Len(t, users, want)
		for _, u := range users {
			_, err := json.Marshal(formatUser(u, "id", datasets.SourceRandomUser))
			require.NoError(t, err)
		}
	})
}

// assertComplete checks that every field of datasets.User is filled in and that
// the dates are RFC 3339.
func assertComplete(t *testing.T, rec any) {
	t.Helper()
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	for _, name := range []string{"id", "first_name", "last_name", "gender", "address", "post_code",
		"email", "username", "dob", "registered_date", "phone", "picture"} {
		v, ok := fields[name].(string)
		if assert.True(t, ok, "field %s is a string in %s", name, b) {
			assert.NotEmpty(t, v, "field %s in %s", name, b)
		}
	}
	for _, name := range []string{"dob", "registered_date"} {
		_, err := time.Parse(time.RFC3339, fields[name].(string))
		assert.NoError(t, err, "field %s", name)
	}
}
