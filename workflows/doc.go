// Package workflows holds streampipe's Temporal workflows: UserAutomation, which
// publishes a dataset's records (users by default) to Kafka on a fixed-rate clock,
// and the types it exchanges with callers (input, result, progress).
package workflows

import (
	"encoding/json"
	"fmt"
	"time"
)

// TaskQueue is the task queue the worker polls and runs are started on by default.
const TaskQueue = "user-automation"

// Duration is a time.Duration written in JSON the way people write durations ("1.5s").
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
