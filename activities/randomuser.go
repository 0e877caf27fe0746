package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-resty/resty/v2"
)

// What the worker takes from randomuser.me, whose answers it cannot vouch for.
const (
	// maxFieldBytes caps each text field of a user: the API's longest are ~60 bytes
	// (picture URLs). A user with a longer one is replaced by the faker's, so that a
	// giant value never reaches Kafka, where it would fail the tick again at each retry.
	maxFieldBytes = 256
	// A user is ~1.6 KiB of JSON with every field; a body may hold bodyBytesPerUser
	// for each user asked for, plus bodyBytesBase, and is not read past that.
	bodyBytesPerUser = 4 << 10
	bodyBytesBase    = 64 << 10
	// maxSnippetBytes caps what an error quotes of an answer, escaped: it reaches the
	// Web UI.
	maxSnippetBytes = 160
)

// apiUser is the part of one randomuser.me result that the record needs. The faker
// builds the same shape, so that both sources go through formatUser.
type apiUser struct {
	// faked marks a user the faker made in place of an unusable one of the API's.
	faked  bool
	Gender string `json:"gender"`
	Name   struct {
		First string `json:"first"`
		Last  string `json:"last"`
	} `json:"name"`
	Location struct {
		Street struct {
			Number flexString `json:"number"`
			Name   string     `json:"name"`
		} `json:"street"`
		City     string     `json:"city"`
		State    string     `json:"state"`
		Country  string     `json:"country"`
		Postcode flexString `json:"postcode"`
	} `json:"location"`
	Email string `json:"email"`
	Login struct {
		Username string `json:"username"`
	} `json:"login"`
	DOB struct {
		Date string `json:"date"`
	} `json:"dob"`
	Registered struct {
		Date string `json:"date"`
	} `json:"registered"`
	Phone   string `json:"phone"`
	Picture struct {
		Medium string `json:"medium"`
	} `json:"picture"`
}

// apiResponse is a randomuser.me answer: results, or an error message (the API sends
// {"error": "..."} when it cannot serve a request).
type apiResponse struct {
	Results []apiUser `json:"results"`
	Error   string    `json:"error"`
}

// flexString takes a JSON string or number as text. randomuser.me sends postcodes as
// numbers for some nationalities (US 61735) and strings for others (GB "N25 0RF").
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %s", snippet(b))
		}
		*s = flexString(n.String())
	}
	return nil
}

// parseResponse decodes a randomuser.me body and checks that it holds want users.
func parseResponse(body []byte, want int) ([]apiUser, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding randomuser response: %w", err)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("randomuser answered with an error: %s", snippet([]byte(r.Error)))
	}
	if len(r.Results) != want {
		return nil, fmt.Errorf("randomuser sent %d users, want %d", len(r.Results), want)
	}
	return r.Results, nil
}

// newRandomUserClient is the HTTP client of randomuser.me. It follows no redirect: one
// could lead to another host, or from https to plain http; RANDOMUSER_URL alone says
// where users come from, and how.
func newRandomUserClient() *resty.Client {
	return resty.New().SetHeader("User-Agent", "streampipe").
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("randomuser redirected to %s; redirects are refused: set RANDOMUSER_URL to the address that answers",
				snippet([]byte(req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)))
		}))
}

// fetchRandomUsers asks randomuser.me for n users generated from seed. The same seed
// and n give the same users, which makes a re-sent tick carry the same records.
func (a *Activities) fetchRandomUsers(ctx context.Context, seed string, n int) ([]apiUser, error) {
	limit := bodyBytesBase + n*bodyBytesPerUser
	resp, err := a.http.R().
		SetContext(ctx).
		SetResponseBodyLimit(limit).
		SetQueryParams(map[string]string{"results": strconv.Itoa(n), "seed": seed}).
		Get(a.cfg.RandomUserURL)
	if err != nil {
		// The URL, with its per-tick seed, would make every tick's error look new.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("randomuser did not answer in time: %w", err)
		case errors.Is(err, resty.ErrResponseBodyTooLarge):
			return nil, fmt.Errorf("randomuser sent more than %d bytes for %d users; the rest was not read", limit, n)
		}
		return nil, fmt.Errorf("calling randomuser: %w", err)
	}
	if resp.StatusCode() != http.StatusOK {
		return nil, fmt.Errorf("randomuser answered %d: %s", resp.StatusCode(), snippet(resp.Body()))
	}
	return parseResponse(resp.Body(), n)
}

// replaceOversized puts the faker's user in the place of each user with a field
// longer than maxFieldBytes, from the same seed (so that a tick sent again has the
// same users), and says which it replaced; nil if none.
func replaceOversized(users []apiUser, numberSeed int64) error {
	var replaced []string
	var fakes []apiUser
	for i := range users {
		field, size := users[i].longestField()
		if size <= maxFieldBytes {
			continue
		}
		if fakes == nil {
			fakes = fakeUsers(numberSeed, len(users))
		}
		users[i] = fakes[i]
		users[i].faked = true
		replaced = append(replaced, fmt.Sprintf("user %d (%s: %d bytes)", i+1, field, size))
	}
	if replaced == nil {
		return nil
	}
	return fmt.Errorf("replaced by the faker's, a field over %d bytes: %s", maxFieldBytes, strings.Join(replaced, ", "))
}

// longestField names the user's longest text field, and its length in bytes.
func (u *apiUser) longestField() (name string, size int) {
	l := u.Location
	for _, f := range []struct {
		name, value string
	}{
		{"gender", u.Gender}, {"name.first", u.Name.First}, {"name.last", u.Name.Last},
		{"location.street.number", string(l.Street.Number)}, {"location.street.name", l.Street.Name},
		{"location.city", l.City}, {"location.state", l.State}, {"location.country", l.Country},
		{"location.postcode", string(l.Postcode)}, {"email", u.Email}, {"login.username", u.Login.Username},
		{"dob.date", u.DOB.Date}, {"registered.date", u.Registered.Date}, {"phone", u.Phone},
		{"picture.medium", u.Picture.Medium},
	} {
		if len(f.value) > size {
			name, size = f.name, len(f.value)
		}
	}
	return name, size
}

// snippet is the start of an answer, for an error message that may reach the Web UI:
// quoted, with every character outside printable ASCII and every one that means
// something to HTML (< > & ' ") escaped, at most maxSnippetBytes in all; "…" after
// the closing quote says that the answer went on.
func snippet(b []byte) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, r := range string(b) { // an invalid byte is utf8.RuneError, escaped as \ufffd
		q := strconv.QuoteToASCII(string(r))
		e := htmlEscaper.Replace(q[1 : len(q)-1])
		if out.Len()+len(e)+len(`"…`) > maxSnippetBytes {
			out.WriteString(`"…`)
			return out.String()
		}
		out.WriteString(e)
	}
	out.WriteByte('"')
	return out.String()
}

// htmlEscaper escapes, inside a Go-quoted string, what HTML would read as markup.
var htmlEscaper = strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`)
