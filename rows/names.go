package rows

import (
	"errors"
	"regexp"
	"strings"
)

var (
	identifier = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)
	topicName  = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
)

// CheckIdentifier checks a keyspace or table name: unquoted, so case does not matter.
func CheckIdentifier(s string) error {
	if !identifier.MatchString(strings.ToLower(s)) {
		return errors.New("want a letter, then letters, digits or _ (at most 48 in all)")
	}
	return nil
}

// CheckTopic checks a Kafka topic name.
func CheckTopic(s string) error {
	if !topicName.MatchString(s) || s == "." || s == ".." {
		return errors.New("want a Kafka topic name: letters, digits, '.', '_' or '-' (at most 249)")
	}
	return nil
}
