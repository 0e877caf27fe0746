package datasets

import "unicode/utf8"

// flatStrings is a fast path for decoding a JSON object whose values are all
// strings or null, as most records of a dataset of text columns are: it sets
// *fields[i] to the value of the member named names[i] and reports true, or reports
// false, having set nothing of use, for any object it does not take: a member not
// in names (encoding/json matches names without regard to case), a value that is
// neither a string nor null, a string with an escape, a control character or
// invalid UTF-8 (which encoding/json replaces), or anything that is not JSON. The
// caller then decodes the value with encoding/json, which gives the same fields or
// says what is wrong: for the objects it takes, flatStrings and encoding/json agree
// (FuzzFlatStrings). The strings share one copy of value, allocated once, instead of
// one allocation each.
func flatStrings(value []byte, names []string, fields []*string) bool {
	s := string(value)
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		name, next, ok := plainString(s, i)
		if !ok {
			return false
		}
		field := -1
		for j, n := range names {
			if n == name {
				field = j
				break
			}
		}
		if field < 0 {
			return false
		}
		i = skipSpace(s, next)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		switch {
		case i+4 <= len(s) && s[i:i+4] == "null": // leaves the field as it was, as encoding/json does
			i += 4
		default:
			v, next, ok := plainString(s, i)
			if !ok {
				return false
			}
			*fields[field] = v
			i = next
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// plainString reads the JSON string at s[i:] that has no escape, control character
// or invalid UTF-8, and returns its content and the index after its closing quote;
// false for any other string, or no string.
func plainString(s string, i int) (v string, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v = s[i+1 : j]
			return v, j + 1, ascii || utf8.ValidString(v)
		case c == '\\' || c < ' ':
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// skipSpace returns the index of the first byte at or after i that is not JSON
// white space.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
