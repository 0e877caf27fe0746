package workflows

import (
	"compress/gzip"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays histories recorded from real runs on the
// local stack (`temporal workflow show -o json`, gzipped), so that a change to the
// workflow code that breaks determinism for runs in flight fails here. The run was
// `{"duration":"11s","interval":"100ms"}`: its first execution made 100 ticks and
// continued as new, its second made the last 10 and completed. The DLQReplay one
// read 3,000 dead letters in 30 pages of 100 (TestReplaySurvivesWorkerKill, its
// worker killed a third of the way).
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range []string{
		"testdata/user_automation_continued_as_new.json.gz",
		"testdata/user_automation_completed.json.gz",
		"testdata/dlq_replay_completed.json.gz",
	} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			gz, err := gzip.NewReader(f)
			require.NoError(t, err)
			history, err := client.HistoryFromJSON(gz, client.HistoryJSONOptions{})
			require.NoError(t, err)

			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(UserAutomation)
			r.RegisterWorkflow(DLQReplay)
			require.NoError(t, r.ReplayWorkflowHistory(newSuite().GetLogger(), history))
		})
	}
}
