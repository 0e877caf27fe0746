package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/kafkatest"
	"github.com/streampipe/streampipe/internal/randomusertest"
	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

func TestCommandLineMistakes(t *testing.T) {
	cfg, err := config.LoadProducer(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	tests := []struct {
		args     []string
		wantErr  error
		wantText string
	}{
		{nil, errUsage, "Commands:"},
		{[]string{"-h"}, nil, "schedule describe"},
		{[]string{"launch"}, errUsage, `unknown command "launch"`},
		{[]string{"schedule"}, errUsage, "name a command: create, pause"},
		{[]string{"schedule", "toggle"}, errUsage, `unknown command "schedule toggle"`},
		{[]string{"run", "-h"}, nil, "-users-per-tick"},
		{[]string{"run", "-users-per-tick", "many"}, errUsage, "invalid value"},
		{[]string{"run", "extra"}, errUsage, "unexpected arguments: extra"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := dispatch(context.Background(), tt.args, cfg, &stdout, &stderr)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, stderr.String(), tt.wantText)
		})
	}
}

func TestUnreachableTemporalSaysWhatToCheck(t *testing.T) {
	cfg, err := config.LoadProducer(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	err = dispatch(context.Background(), []string{"schedule", "describe", "-address", "127.0.0.1:1"}, cfg, &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach Temporal at 127.0.0.1:1")
	assert.Contains(t, err.Error(), "make stack-up")
}

// startWorker runs a worker for the test's task queue in this process.
func startWorker(t *testing.T) config.Producer {
	t.Helper()
	cfg, err := config.LoadProducer(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.TemporalAddress, cfg.TemporalNamespace = stacktest.TemporalAddress(t), stacktest.TemporalNamespace()
	cfg.TaskQueue = fmt.Sprintf("test-starter-%d", time.Now().UnixNano())
	cfg.ScheduleID, cfg.KafkaTopic = cfg.TaskQueue, cfg.TaskQueue
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: tlog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	acts := activities.New(activities.Config{KafkaBrokers: stacktest.KafkaBrokers(t), RandomUserURL: randomusertest.NewServer(t).URL}, quiet)
	t.Cleanup(func() { _ = acts.Close() })
	w := worker.New(c, cfg.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.UserAutomation)
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return cfg
}

func TestRunFollowsToTheResult(t *testing.T) {
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	idsFile := filepath.Join(t.TempDir(), "ids")
	err := dispatch(ctx, []string{"run", "-id", cfg.TaskQueue, "-duration", "3s", "-users-per-tick", "2", "-ids-file", idsFile},
		cfg, &stdout, &stderr)

	require.NoError(t, err, stderr.String())
	assert.JSONEq(t, fmt.Sprintf(`{"dataset":"users","ticks":3,"records_published":6,"users_published":6,"users_by_source":{"randomuser":6,"faker":0},
		"late_ticks":0,"max_lateness":%q,"topic":%q}`, jsonField(t, stdout.Bytes(), "max_lateness"), cfg.KafkaTopic), stdout.String())
	assert.Contains(t, stderr.String(), "3/3 ticks", "the progress bar shows the last tick")
	assert.Regexp(t, `Web UI: http://localhost:8233/namespaces/default/workflows/`+cfg.TaskQueue+`/[0-9a-f-]{36}\n$`, stderr.String())

	// The ids file names exactly the users the run put on the topic.
	ids, err := os.ReadFile(idsFile)
	require.NoError(t, err)
	msgs, _ := kafkatest.ReadAll(ctx, t, stacktest.KafkaBrokers(t), cfg.KafkaTopic)
	var onTopic []string
	for _, m := range msgs {
		onTopic = append(onTopic, string(m.Key))
	}
	assert.ElementsMatch(t, onTopic, strings.Fields(string(ids)))
	assert.Len(t, onTopic, 6)
}

func TestScheduleCreateTakesTheRunInput(t *testing.T) {
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	err := dispatch(ctx, []string{"schedule", "create", "-duration", "5s", "-users-per-tick", "3"}, cfg, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Contains(t, stdout.String(), "Created schedule "+cfg.ScheduleID+", paused.")

	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger()})
	require.NoError(t, err)
	defer c.Close()
	h := c.ScheduleClient().GetHandle(ctx, cfg.ScheduleID)
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Len(t, action.Args, 1)
	var in workflows.UserAutomationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(action.Args[0].(*commonpb.Payload), &in))
	assert.Equal(t, workflows.UserAutomationInput{Duration: "5s", UsersPerTick: 3, Topic: cfg.KafkaTopic}, in)
	assert.True(t, d.Schedule.State.Paused)
}

func TestInterruptStopsFollowingNotTheRun(t *testing.T) {
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, interrupt := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"run", "-id", cfg.TaskQueue, "-duration", "4s"}, cfg, &stdout, &stderr)
	}()
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger()})
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), cfg.TaskQueue, "", workflows.ProgressQuery)
		var p workflows.Progress
		return err == nil && v.Get(&p) == nil && p.TicksDone >= 1
	}, 30*time.Second, 100*time.Millisecond)

	interrupt()
	require.ErrorIs(t, <-done, errStoppedFollowing)
	assert.Contains(t, stderr.String(), "Stopped following. Run "+cfg.TaskQueue+" goes on in the worker")

	var res workflows.UserAutomationResult
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.GetWorkflow(ctx, cfg.TaskQueue, "").Get(ctx, &res))
	assert.Equal(t, 4, res.Ticks, "the run went on to its end")
}

func jsonField(t *testing.T, b []byte, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	s, _ := m[name].(string)
	return s
}
