// Package record defines the records streampipe publishes to Kafka and the streaming
// worker writes to Cassandra.
package record

// User is the value of a users_created message: the fields of the seed pipeline's
// format_data, all present, serialized as JSON. The Kafka key is ID.
type User struct {
	ID             string `json:"id"` // UUID string
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	Gender         string `json:"gender"`
	Address        string `json:"address"`   // "<street number> <street name>, <city>, <state>, <country>"
	PostCode       string `json:"post_code"` // always a string
	Email          string `json:"email"`
	Username       string `json:"username"`
	DOB            string `json:"dob"`             // RFC 3339, as the API gives it
	RegisteredDate string `json:"registered_date"` // RFC 3339, as the API gives it
	Phone          string `json:"phone"`
	Picture        string `json:"picture"`          // the medium picture URL
	Source         string `json:"source,omitempty"` // "randomuser" or "faker"
}
