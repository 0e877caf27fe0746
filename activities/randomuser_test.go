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
	"github.com/streampipe/streampipe/internal/randomusertest"
	"github.com/streampipe/streampipe/record"
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
	const interval = 400 * time.Millisecond
	recorded := randomusertest.NewServer(t)
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

func TestTickSentAgainHasSameUsers(t *testing.T) {
	for _, url := range []string{randomusertest.NewServer(t).URL, "http://127.0.0.1:1/api/"} {
		a := New(Config{RandomUserURL: url}, discardLogger())
		ids, first := generate(t, a, datasets.NameUsers, 3, 4)
		_, again := generate(t, a, datasets.NameUsers, 3, 4)
		source := first[0].(record.User).Source
		assert.Equal(t, first, again, "source %s", source)
		for i, v := range first {
			assert.Equal(t, ids[i], v.(record.User).ID)
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

// assertComplete checks that every field of record.User is filled in and that
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
