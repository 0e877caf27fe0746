// Package cutover moves a topic's consumption from a Spark Structured Streaming
// query to streampipe: it reads how far the query got from its checkpoint
// directory and commits that position as the streaming worker's consumer group
// offsets, so that streampipe starts where Spark stopped, without a gap and
// without a replay.
package cutover

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Checkpoint is the position of a Spark query: the offsets of its last finished
// batch.
type Checkpoint struct {
	Dir   string
	Batch int64 // the highest batch id with a commits/ entry
	// Offsets are, per topic and partition, the next offset to read: everything
	// before it was processed by a finished batch.
	Offsets map[string]map[int]int64
	// Written is when the query last wrote a batch file (offsets/ or commits/): a
	// running query writes one each batch it plans and each it finishes.
	Written time.Time
}

// File is the offsets file the position was read from.
func (c Checkpoint) File() string { return offsetsFile(c.Dir, c.Batch) }

func offsetsFile(dir string, batch int64) string {
	return filepath.Join(dir, "offsets", strconv.FormatInt(batch, 10))
}

// ReadCheckpoint reads the checkpoint directory dir as Spark writes it (HDFSMetadataLog):
// offsets/<batch> is written when a batch is planned, commits/<batch> when it
// finished; a batch file is named by its decimal id, any other name (the hidden
// .<id>.crc checksums, temporary files) is not a batch. The offsets taken are
// those of the highest batch that has a commit: a later planned batch did not
// finish, and Spark re-runs it from there. More than one planned batch past the last
// finished one is refused, as Spark refuses it.
func ReadCheckpoint(dir string) (Checkpoint, error) {
	committed, committedAt, err := batches(filepath.Join(dir, "commits"))
	if err != nil {
		return Checkpoint{}, err
	}
	if len(committed) == 0 {
		return Checkpoint{}, fmt.Errorf("%s: no finished batch (commits/ is empty): the Spark query never completed one; nothing to cut over",
			dir)
	}
	last := slices.Max(committed)
	planned, plannedAt, err := batches(filepath.Join(dir, "offsets"))
	if err != nil {
		return Checkpoint{}, err
	}
	if len(planned) > 0 && slices.Max(planned) > last+1 {
		return Checkpoint{}, fmt.Errorf("%s: inconsistent: batch %d is planned but the last finished one is %d; Spark itself refuses to restart from such a checkpoint",
			dir, slices.Max(planned), last)
	}
	if err := checkCommit(filepath.Join(dir, "commits", strconv.FormatInt(last, 10))); err != nil {
		return Checkpoint{}, err
	}
	offsets, err := readOffsets(offsetsFile(dir, last))
	if err != nil {
		return Checkpoint{}, err
	}
	written := committedAt
	if plannedAt.After(written) {
		written = plannedAt
	}
	return Checkpoint{Dir: dir, Batch: last, Offsets: offsets, Written: written}, nil
}

// batches are the ids of the batch files in the log directory dir, and when the
// newest of them was written.
func batches(dir string) (ids []int64, written time.Time, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("not a Spark checkpoint directory: %w", err)
	}
	for _, e := range entries {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || id < 0 || e.IsDir() {
			continue
		}
		ids = append(ids, id)
		if info, err := e.Info(); err == nil && info.ModTime().After(written) {
			written = info.ModTime()
		}
	}
	return ids, written, nil
}

// checkCommit checks that the commit file is one: its first line is a log version.
func checkCommit(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if _, err := logVersion(string(first)); err != nil {
		return lineError(path, 1, err)
	}
	return nil
}

// readOffsets reads an offsets file (OffsetSeqLog): the version line v1, a line
// of batch metadata (JSON, or empty), then one line per source of the query: its
// offset as JSON, or "-" when the source had none yet. The Kafka source's offset
// is topic → partition (a decimal string) → next offset; the offsets of several
// sources are merged.
func readOffsets(path string) (map[string]map[int]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the last finished batch has no offsets: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20) // a source line lists every partition
	offsets := map[string]map[int]int64{}
	line := 0
	for sc.Scan() {
		line++
		if err := parseLine(line, sc.Text(), offsets); err != nil {
			return nil, lineError(path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if line < 3 {
		return nil, lineError(path, line+1, errors.New("missing: the file ends before its first source's offsets"))
	}
	if len(offsets) == 0 {
		return nil, fmt.Errorf("%s: no source has offsets yet", path)
	}
	return offsets, nil
}

// parseLine reads line number n of an offsets file into offsets.
func parseLine(n int, text string, offsets map[string]map[int]int64) error {
	switch {
	case n == 1:
		if v, err := logVersion(text); err != nil || v != 1 {
			return fmt.Errorf("want the log version v1, got %q", text)
		}
		return nil
	case n == 2:
		if strings.TrimSpace(text) != "" && !json.Valid([]byte(text)) {
			return errors.New("the batch metadata is not JSON")
		}
		return nil
	case text == "-": // a source without offsets
		return nil
	}
	var src map[string]map[string]int64
	if err := json.Unmarshal([]byte(text), &src); err != nil {
		return fmt.Errorf(`not a Kafka source's offsets, {"topic":{"partition":offset,...}}: %w`, err)
	}
	for topic, parts := range src {
		if offsets[topic] != nil {
			return fmt.Errorf("topic %s is read by two sources", topic)
		}
		offsets[topic] = map[int]int64{}
		for p, o := range parts {
			id, err := strconv.Atoi(p)
			if err != nil || id < 0 {
				return fmt.Errorf("topic %s: partition %q is not a partition number", topic, p)
			}
			if o < 0 {
				return fmt.Errorf("topic %s partition %d: offset %d is not a position (Spark writes -1 and -2 only for latest and earliest)", topic, id, o)
			}
			offsets[topic][id] = o
		}
	}
	return nil
}

// logVersion reads a log's version line, "v<n>".
func logVersion(line string) (int, error) {
	digits, ok := strings.CutPrefix(line, "v")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("want a log version such as v1, got %q", line)
	}
	return n, nil
}

func lineError(path string, line int, err error) error {
	return fmt.Errorf("%s line %d: %w", path, line, err)
}
