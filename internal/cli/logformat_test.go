package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/envvar"
)

func readLogFormat(env map[string]string) (LogFormat, error) {
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	f := ReadLogFormat(e)
	return f, e.Err()
}

func TestReadLogFormat(t *testing.T) {
	for value, want := range map[string]LogFormat{"": LogText, "text": LogText, "json": LogJSON, " JSON ": LogJSON} {
		f, err := readLogFormat(map[string]string{"LOG_FORMAT": value})
		require.NoError(t, err, value)
		assert.Equal(t, want, f, value)
	}
	f, err := readLogFormat(nil)
	require.NoError(t, err)
	assert.Equal(t, LogText, f, "text by default")

	_, err = readLogFormat(map[string]string{"LOG_FORMAT": "yaml"})
	assert.EqualError(t, err, `LOG_FORMAT="yaml": want text or json`)
}

func TestLoggerWritesTheFormat(t *testing.T) {
	var text, js bytes.Buffer
	LogText.Logger(&text, slog.LevelInfo).Info("worker started", "task_queue", "q")
	LogJSON.Logger(&js, slog.LevelInfo).Info("worker started", "task_queue", "q")
	LogJSON.Logger(&js, slog.LevelInfo).Debug("below the level")

	assert.Contains(t, text.String(), `level=INFO msg="worker started" task_queue=q`)
	var line map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &line), "one JSON object: %s", js.String())
	assert.Equal(t, "INFO", line["level"])
	assert.Equal(t, "worker started", line["msg"])
	assert.Equal(t, "q", line["task_queue"])
}
