// Package cutovertest writes Spark checkpoint directories for tests, in the
// layout and formats a Spark Structured Streaming query with a Kafka source
// leaves them (HDFSMetadataLog, OffsetSeqLog, CommitLog).
package cutovertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Offsets are a Kafka source's offsets: topic → partition → next offset.
type Offsets map[string]map[int]int64

// Checkpoint writes a checkpoint directory of a query whose batches 0 to
// len(done)-1 finished, batch i having read up to done[i]; a non-nil next is a
// further batch planned but not finished (an offsets file without a commit).
// Each file has its hidden .crc checksum beside it, as Hadoop's local file
// system writes them.
func Checkpoint(t testing.TB, done []Offsets, next Offsets) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "metadata", `{"id":"0b5c3a4e-2f5e-4a0e-9d6e-6f1c2b3a4d5e"}`)
	for i, o := range done {
		write(t, dir, filepath.Join("offsets", strconv.Itoa(i)), offsets(t, i, o))
		write(t, dir, filepath.Join("commits", strconv.Itoa(i)), "v1\n{\"nextBatchWatermarkMs\":0}")
	}
	if next != nil {
		write(t, dir, filepath.Join("offsets", strconv.Itoa(len(done))), offsets(t, len(done), next))
	}
	return dir
}

// offsets is the offsets file of batch i.
func offsets(t testing.TB, i int, o Offsets) string {
	t.Helper()
	src := map[string]map[string]int64{}
	for topic, parts := range o {
		src[topic] = map[string]int64{}
		for p, off := range parts {
			src[topic][strconv.Itoa(p)] = off
		}
	}
	line, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":%d,\"conf\":{\"spark.sql.shuffle.partitions\":\"200\"}}\n%s",
		1764630000000+int64(i)*1000, line)
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	crc := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".crc")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{path: content, crc: "crc\x00\x00\x02\x00"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Stop makes the checkpoint dir look as a stopped query leaves it: its batch
// files last written d ago.
func Stop(t testing.TB, dir string, d time.Duration) {
	t.Helper()
	at := time.Now().Add(-d)
	for _, log := range []string{"offsets", "commits"} {
		entries, err := os.ReadDir(filepath.Join(dir, log))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if err := os.Chtimes(filepath.Join(dir, log, e.Name()), at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
}
