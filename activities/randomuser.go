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
	"unicode/utf8"
)

// apiUser is the part of one randomuser.me result that the record needs. The faker
// builds the same shape, so that both sources go through formatUser.
type apiUser struct {
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
			return fmt.Errorf("want a string or a number, got %.40s", b)
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
		return nil, fmt.Errorf("randomuser answered with an error: %s", r.Error)
	}
	if len(r.Results) != want {
		return nil, fmt.Errorf("randomuser sent %d users, want %d", len(r.Results), want)
	}
	return r.Results, nil
}

// fetchRandomUsers asks randomuser.me for n users generated from seed. The same seed
// and n give the same users, which makes a re-sent tick carry the same records.
func (a *Activities) fetchRandomUsers(ctx context.Context, seed string, n int) ([]apiUser, error) {
	resp, err := a.http.R().
		SetContext(ctx).
		SetQueryParams(map[string]string{"results": strconv.Itoa(n), "seed": seed}).
		Get(a.cfg.RandomUserURL)
	if err != nil {
		// The URL, with its per-tick seed, would make every tick's error look new.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("randomuser did not answer in time: %w", err)
		}
		return nil, fmt.Errorf("calling randomuser: %w", err)
	}
	if resp.StatusCode() != http.StatusOK {
		return nil, fmt.Errorf("randomuser answered %s: %s", resp.Status(), snippet(resp.Body()))
	}
	return parseResponse(resp.Body(), n)
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	const max = 200
	if len(b) <= max {
		return string(b)
	}
	b = b[:max]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b) + "…"
}
