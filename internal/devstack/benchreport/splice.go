package benchreport

import (
	"fmt"
	"strings"
)

// The markers around the generated part of a document (docs/performance.md's table).
const (
	BeginMarker = "<!-- bench:begin -->"
	EndMarker   = "<!-- bench:end -->"
)

// Splice returns doc with what lies between its markers replaced by generated, or
// an error if doc does not have each marker once, in order.
func Splice(doc, generated string) (string, error) {
	if strings.Count(doc, BeginMarker) != 1 || strings.Count(doc, EndMarker) != 1 {
		return "", fmt.Errorf("want %s and %s once each", BeginMarker, EndMarker)
	}
	before, rest, _ := strings.Cut(doc, BeginMarker)
	_, after, ok := strings.Cut(rest, EndMarker)
	if !ok {
		return "", fmt.Errorf("%s comes before %s", EndMarker, BeginMarker)
	}
	return before + BeginMarker + "\n" + strings.TrimSpace(generated) + "\n" + EndMarker + after, nil
}
