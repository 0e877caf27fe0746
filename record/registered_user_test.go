package record

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegisteredUserText(t *testing.T) {
	u := RegisteredUser{Name: "James Olson", Address: "983 Alvarado Vista\nPort Matthew, MA 57760", Year: "2002"}
	assert.Equal(t, "James Olson$983 Alvarado Vista\nPort Matthew, MA 57760$2002", u.String())
	back, err := ParseRegisteredUser(u.String())
	require.NoError(t, err)
	assert.Equal(t, u, back)

	for s, parts := range map[string]int{"": 1, "a": 1, "a$b": 2, "a$b$c$d": 4, "$$$": 4} {
		_, err := ParseRegisteredUser(s)
		assert.EqualError(t, err, "want name$address$year, got "+string(rune('0'+parts))+" $-separated parts", "%q", s)
	}
}
