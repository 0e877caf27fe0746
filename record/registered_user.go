package record

import (
	"fmt"
	"strings"
)

// RegisteredUser is a registered_user_2 message: the seed's faker producer sent a JSON
// string "<name>$<address>$<year>", and so does streampipe. The message has no id of
// its own; the Kafka key (a UUID) is the row's id.
type RegisteredUser struct {
	Name    string
	Address string // may span lines, as faker's addresses do
	Year    string // the registration year, e.g. "2002": the table's date column
}

// registeredUserSep separates the fields of a RegisteredUser.
const registeredUserSep = "$"

// String is the message's text, before JSON encoding: "<name>$<address>$<year>".
func (u RegisteredUser) String() string {
	return u.Name + registeredUserSep + u.Address + registeredUserSep + u.Year
}

// ParseRegisteredUser splits s, the decoded JSON string of a message, into its three
// fields. Anything but exactly three fields is an error.
func ParseRegisteredUser(s string) (RegisteredUser, error) {
	parts := strings.Split(s, registeredUserSep)
	if len(parts) != 3 {
		return RegisteredUser{}, fmt.Errorf("want name$address$year, got %d $-separated parts", len(parts))
	}
	return RegisteredUser{Name: parts[0], Address: parts[1], Year: parts[2]}, nil
}
