package cutover

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/cutovertest"
)

const meta = `{"batchWatermarkMs":0,"batchTimestampMs":1764630000000,"conf":{"spark.sql.shuffle.partitions":"200"}}`

// writeFiles writes a checkpoint directory: path (relative) → content.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"offsets", "commits", "sources/0"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

func offsetsOf(sources ...string) string {
	out := "v1\n" + meta
	for _, s := range sources {
		out += "\n" + s
	}
	return out
}

const commit = "v1\n{\"nextBatchWatermarkMs\":0}"

func TestReadCheckpoint(t *testing.T) {
	for _, tt := range []struct {
		name    string
		files   map[string]string
		batch   int64
		offsets map[string]map[int]int64
		err     string // a part of the error, "" for none
	}{
		{name: "the last batch finished", files: map[string]string{
			"metadata":    `{"id":"5f2c"}`,
			"sources/0/0": "v1\n{\"users_created\":{\"0\":0}}",
			"offsets/0":   offsetsOf(`{"users_created":{"1":10,"0":12}}`), "commits/0": commit,
			"offsets/1": offsetsOf(`{"users_created":{"2":1200,"1":1187,"0":1190}}`), "commits/1": commit,
		}, batch: 1, offsets: map[string]map[int]int64{"users_created": {0: 1190, 1: 1187, 2: 1200}}},
		{name: "the last batch did not finish: the one before it is taken", files: map[string]string{
			"offsets/4": offsetsOf(`{"t":{"0":40}}`), "commits/4": commit,
			"offsets/5": offsetsOf(`{"t":{"0":50}}`),
		}, batch: 4, offsets: map[string]map[int]int64{"t": {0: 40}}},
		{name: "crc and temporary files are not batches", files: map[string]string{
			"offsets/3": offsetsOf(`{"t":{"0":3}}`), "commits/3": commit,
			"offsets/.3.crc": "garbage", "commits/.3.crc": "garbage", "commits/.4.crc": "garbage",
			"commits/4.tmp": "garbage", "offsets/.4.1f2e.tmp": "garbage",
		}, batch: 3, offsets: map[string]map[int]int64{"t": {0: 3}}},
		{name: "batch ids compare as numbers", files: map[string]string{
			"offsets/9": offsetsOf(`{"t":{"0":9}}`), "commits/9": commit,
			"offsets/10": offsetsOf(`{"t":{"0":10}}`), "commits/10": commit,
		}, batch: 10, offsets: map[string]map[int]int64{"t": {0: 10}}},
		{name: "several sources, one without offsets yet", files: map[string]string{
			"offsets/0": offsetsOf(`{"a":{"0":1}}`, "-", `{"b":{"0":2,"1":3}}`), "commits/0": commit,
		}, batch: 0, offsets: map[string]map[int]int64{"a": {0: 1}, "b": {0: 2, 1: 3}}},
		{name: "empty metadata line", files: map[string]string{
			"offsets/0": "v1\n\n{\"t\":{\"0\":7}}", "commits/0": commit,
		}, batch: 0, offsets: map[string]map[int]int64{"t": {0: 7}}},
		{name: "two batches planned past the last finished one", files: map[string]string{
			"offsets/4": offsetsOf(`{"t":{"0":40}}`), "commits/4": commit,
			"offsets/5": offsetsOf(`{"t":{"0":50}}`), "offsets/6": offsetsOf(`{"t":{"0":60}}`),
		}, err: "inconsistent: batch 6 is planned but the last finished one is 4"},
		{name: "no finished batch", files: map[string]string{"offsets/0": offsetsOf(`{"t":{"0":1}}`)},
			err: "no finished batch"},
		{name: "committed batch without offsets", files: map[string]string{"commits/2": commit},
			err: "the last finished batch has no offsets"},
		{name: "garbled commit", files: map[string]string{
			"offsets/0": offsetsOf(`{"t":{"0":1}}`), "commits/0": "PK\x03\x04",
		}, err: filepath.Join("commits", "0") + " line 1: want a log version"},
		{name: "unknown version", files: map[string]string{
			"offsets/0": "v2\n" + meta + "\n{\"t\":{\"0\":1}}", "commits/0": commit,
		}, err: filepath.Join("offsets", "0") + ` line 1: want the log version v1, got "v2"`},
		{name: "garbled metadata", files: map[string]string{
			"offsets/0": "v1\n{oops\n{\"t\":{\"0\":1}}", "commits/0": commit,
		}, err: "line 2: the batch metadata is not JSON"},
		{name: "garbled source", files: map[string]string{
			"offsets/0": offsetsOf(`{"t":{"0":1}}`, `{"t2":{"0":`), "commits/0": commit,
		}, err: "line 4: not a Kafka source's offsets"},
		{name: "not a Kafka source", files: map[string]string{
			"offsets/0": offsetsOf(`{"logOffset":3}`), "commits/0": commit,
		}, err: "line 3: not a Kafka source's offsets"},
		{name: "partition not a number", files: map[string]string{
			"offsets/0": offsetsOf(`{"t":{"x":1}}`), "commits/0": commit,
		}, err: `line 3: topic t: partition "x" is not a partition number`},
		{name: "negative offset", files: map[string]string{
			"offsets/0": offsetsOf(`{"t":{"0":-2}}`), "commits/0": commit,
		}, err: "line 3: topic t partition 0: offset -2 is not a position"},
		{name: "one topic in two sources", files: map[string]string{
			"offsets/0": offsetsOf(`{"t":{"0":1}}`, `{"t":{"0":2}}`), "commits/0": commit,
		}, err: "line 4: topic t is read by two sources"},
		{name: "truncated", files: map[string]string{"offsets/0": "v1\n" + meta, "commits/0": commit},
			err: "line 3: missing"},
		{name: "only sources without offsets", files: map[string]string{"offsets/0": offsetsOf("-"), "commits/0": commit},
			err: "no source has offsets yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			ck, err := ReadCheckpoint(dir)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now(), ck.Written, time.Minute)
			ck.Written = time.Time{}
			assert.Equal(t, Checkpoint{Dir: dir, Batch: tt.batch, Offsets: tt.offsets}, ck)
		})
	}
}

// Checkpoints written by the real Spark 3.5.7 job (Kafka source, the Spark Cassandra
// connector's sink), copied as they were: one stopped with query.stop() after three
// batches, one whose JVM was killed (kill -9) once batch 2 was planned, before it
// finished. The first gives batch 2's offsets; the second batch 1's, not the planned
// batch 2's ({"2":486,"1":498,"0":510}).
func TestReadCheckpointWrittenBySpark(t *testing.T) {
	for _, tt := range []struct {
		dir   string
		batch int64
		want  map[string]map[int]int64
	}{
		{"spark-3.5.7-stopped", 2, map[string]map[int]int64{"sparkcheck_users": {0: 477, 1: 489, 2: 529}}},
		{"spark-3.5.7-killed", 1, map[string]map[int]int64{"sparkcheck_users2": {0: 340, 1: 332, 2: 324}}},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			ck, err := ReadCheckpoint(filepath.Join("testdata", tt.dir))
			require.NoError(t, err)
			assert.Equal(t, tt.batch, ck.Batch)
			assert.Equal(t, tt.want, ck.Offsets)
		})
	}
}

func TestReadCheckpointOfNoDirectory(t *testing.T) {
	_, err := ReadCheckpoint(filepath.Join(t.TempDir(), "nowhere"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a Spark checkpoint directory")
	assert.Contains(t, err.Error(), filepath.Join("nowhere", "commits"))
}

// An offset outside the partition's records is refused: records were deleted, or
// the topic is not the one Spark read.
func TestPartitionCheck(t *testing.T) {
	assert.NoError(t, Partition{ID: 1, Commit: 5, Start: 5, End: 9}.check("t"))
	assert.NoError(t, Partition{ID: 1, Commit: 9, Start: 5, End: 9}.check("t"))
	assert.ErrorContains(t, Partition{ID: 1, Commit: 4, Start: 5, End: 9}.check("t"),
		"topic t partition 1: the checkpoint's offset 4 is before the partition's first offset 5")
	assert.ErrorContains(t, Partition{ID: 1, Commit: 10, Start: 5, End: 9}.check("t"),
		"topic t partition 1: the checkpoint's offset 10 is beyond the partition's end 9")
}

// Written is when the query last wrote a batch file: what tells a running query
// from a stopped one.
func TestCheckpointWritten(t *testing.T) {
	dir := cutovertest.Checkpoint(t, []cutovertest.Offsets{{"t": {0: 1}}}, cutovertest.Offsets{"t": {0: 2}})
	ck, err := ReadCheckpoint(dir)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ck.Written, time.Minute)
	cutovertest.Stop(t, dir, time.Hour)
	ck, err = ReadCheckpoint(dir)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(-time.Hour), ck.Written, time.Minute)
}
